/*
 * A mote in real time (firmware images and the bench scenarios): the
 * capsule compiled into flash runs with TerraNet's local operations on the
 * board's peripherals. Logical time follows the board's millisecond clock:
 * a timer reaction happens when the clock reaches its deadline (and `now`
 * becomes the deadline: lateness is compensated), other reactions at the
 * clock's time; between reactions the mote sleeps until the next interrupt.
 *
 * Simulated peripherals: a sensor conversion (REQ_TEMP, REQ_PHOTO, ...)
 * completes RT_SENSOR_MS later with the next reading of a small table; a
 * radio send (SEND, SEND_ACK) is printed as "R <hex>" on the byte output
 * and completes RT_RADIO_MS later (with RT_FRAME_TIME: "R <hex> @<ms>", the
 * bench's form); LEDs are the board's. Bench builds stop
 * at RT_STOP_MS (marker 2, "H", then the board's exit), or run RT_STOP_ITER
 * input reactions after the boot between markers 1 and 2 (with RT_FROZEN:
 * no clock interrupt, for simulators that time marker to marker).
 *
 * With RT_SERIAL (MicaZ images) a capsule received over the UART
 * (comp/serial.c) replaces the script, and the board keeps it across resets
 * (board_keep: the EEPROM; "K len" once written), so the mote boots it rather
 * than the one in flash ("K len" at boot); the mote outlives its script: when the capsule is refused, or
 * the script halts ("H"), it waits for one over the serial line instead of
 * stopping.
 */
#include "board.h"
#include "components.h"
#include "report.h"
#if RT_SERIAL
#include "serial.h"
#endif

#ifndef RT_SENSOR_MS
#define RT_SENSOR_MS 10
#endif
#ifndef RT_RADIO_MS
#define RT_RADIO_MS 4
#endif
#ifndef RT_NODE_ID
#define RT_NODE_ID 1 /* make NODE_ID=n */
#endif

extern TVM_ROM uint8_t tc_capsule[];
extern const uint16_t tc_capsule_len;

static TVM_ROM int16_t TABLE[TC_NSENSORS][8] = {
  { 500, 503, 507, 510, 508, 504, 501, 499 },   /* TEMP (raw ADC) */
  { 400, 420, 380, 410, 395, 405, 390, 415 },   /* PHOTO */
  { 3000, 2998, 2997, 2995, 2994, 2992, 2991, 2990 }, /* VOLTS (mV) */
  { 0, 12, 3, 40, 7, 0, 22, 5 },                /* MIC */
  { 0, 1, 0, 1, 1, 0, 0, 1 },                   /* PORT_A */
  { 1, 1, 0, 0, 1, 0, 1, 0 },                   /* PORT_B */
};

static uint8_t pending;                         /* bit s per sensor s, then RADIO */
#define RADIO ((uint8_t)(1u << TC_NSENSORS))
typedef char rt_pending_fits[TC_NSENSORS < 8 ? 1 : -1];
static uint32_t due[TC_NSENSORS + 1];
static uint8_t pos[TC_NSENSORS];
static uint8_t radio_type, radio_ack;
static uint8_t idle;        /* the VM had nothing to do at wake_at's computation */
static uint32_t wake_at;    /* when something can next happen */
static uint8_t wake_known;  /* wake_at holds: nothing was requested and no step began since */

/* wake_at: the next timer deadline, conversion or send completing; inlined
 * in the driver's loop, where it runs each time the mote goes idle (out of line: +64 AVR cycles per
 * IO-bound iteration), and called from tvm_host_tick (inlined there: +7 per CPU-bound iteration) */
static TVM_INLINE void find_wake(void) {
  uint32_t d;
  uint8_t s, m = 1;
  wake_at = tvm.now + (tvm_next_deadline(&d) ? d : 0x7fffffffu);
  for (s = 0; s <= TC_NSENSORS; s++, m = (uint8_t)(m << 1)) {
    if ((pending & m) && (int32_t)(due[s] - wake_at) < 0) wake_at = due[s];
  }
  wake_known = 1;
}

static TVM_NOINLINE void compute_wake(void) {
  find_wake();
}

#if TVM_TICK
/* The clock ticked during a chain of input reactions (core/tvm.h): the chain
 * goes on at the clock's time unless something is due by then. (A timer armed
 * in the chain has ended it, and a request clears wake_known.) */
uint8_t tvm_host_tick(void) {
  uint32_t t;
  uint8_t tick;
  board_irq_off();
  t = board_ms();
  tick = tvm_chain_stop == TVM_CHAIN_TICK;
  if (tick) tvm_chain_stop = 0;
  board_irq_on();
  if (!wake_known) compute_wake();
  if (!tick || (int32_t)(t - wake_at) >= 0) return 0;
#ifdef RT_STOP_MS
  if (t >= RT_STOP_MS) return 0; /* the bench's end */
#endif
  tvm.now = t;
  return 1;
}
#endif

TVM_NOINLINE void plat_sensor_request(uint8_t s) {
  if (pending & (1u << s)) return; /* busy, as TinyOS's EBUSY */
  pending |= (uint8_t)(1u << s);
  due[s] = tvm.now + RT_SENSOR_MS;
  wake_known = 0;
}

TVM_NOINLINE void plat_radio_send(const uint8_t *frame, uint8_t len, uint8_t ack) {
  rp_str("R ");
  rp_hex(frame, len);
#ifdef RT_FRAME_TIME
  rp_str(" @"); /* bench builds: the send's time in ms */
  rp_u32(tvm.now);
#endif
  rp_c('\n');
  pending |= RADIO;
  due[TC_NSENSORS] = tvm.now + RT_RADIO_MS;
  wake_known = 0;
  radio_type = len ? frame[0] : 0;
  radio_ack = ack;
}

void plat_leds(uint8_t leds) {
  board_leds(leds);
}

void plat_report_output(uint8_t id, int32_t v, const uint8_t *rec, uint8_t len) {
  (void)id;
  (void)v;
  (void)rec;
  (void)len;
}

void plat_report_error(uint8_t code, uint16_t pc) {
  rp_str("E ");
  rp_u32(code);
  rp_c(' ');
  rp_u32(pc);
  rp_c('\n');
}

void plat_host_exception(const char *what) {
  (void)what;
  rp_str("X host\n");
  tvm_abort();
}

/* Completed conversions and sends at time t become inputs. (The loops
 * shift a running mask: the AVR and the MSP430 shift one bit per instruction.) */
static void poll(uint32_t t) {
  uint8_t s, m = 1;
  for (s = 0; s < TC_NSENSORS; s++, m = (uint8_t)(m << 1)) {
    if ((pending & m) && (int32_t)(t - due[s]) >= 0) {
      int16_t v = TABLE[s][pos[s]];
      pos[s] = (uint8_t)((pos[s] + 1) & 7);
      pending &= (uint8_t)~m;
      tc_raise(s, v, (uint8_t)v);
    }
  }
  if ((pending & RADIO) && (int32_t)(t - due[TC_NSENSORS]) >= 0) {
    pending &= (uint8_t)~RADIO;
    if (radio_ack) tc_raise(TC_IN_SEND_DONE_ACK, 1, radio_type);
    else tc_raise(TC_IN_SEND_DONE, 0, radio_type);
  }
}

/* Load the capsule of len bytes at tvm_mem[0] and reset the components: 1, or 0 when the loader
 * rejects it or it is of another configuration than TerraNet's (the image's components; its script
 * would get the wrong events), with the reason on the byte output. */
static TVM_NOINLINE uint8_t load(uint16_t len) {
  uint8_t r = tvm_load(len);
  if (r) {
    /* "X reject <capsule byte> <reason>" (TVM_E_* of core/tvm.h) */
    rp_str("X reject ");
    rp_u32(tvm_reject_offset);
    rp_c(' ');
    rp_u32(r);
    rp_c('\n');
    return 0;
  }
  if (TVM_CAPSULE_CONFIG_ID(tvm_mem) != TC_TERRANET_ID) {
    rp_str("X config\n");
    return 0;
  }
  tc_init(0, RT_NODE_ID, 0, 0, 0, 0); /* TerraNet: its role tables are constants in real-time builds */
  return 1;
}

#if RT_SERIAL
static uint8_t running; /* a script is loaded and has not halted */
static uint16_t keeping; /* the length of the capsule being written to the board's record, or 0 */

/* "K len": the mote keeps a capsule of len bytes for its next power-on */
static void kept(uint16_t len) {
  sl_line("K ", len);
}

void rt_stop(void) {
  running = 0;
  pending = 0;
  idle = 0;
  board_leds(0);
  board_keep_stop(); /* the capsule's bytes are about to be overwritten */
  keeping = 0;
}

uint8_t rt_start(uint16_t len) {
  if (!load(len)) return 0;
  sl_line("A ", len);
  board_keep(tvm_mem, len); /* the capsule stays as it is in the block while it runs */
  keeping = len;
  tvm.now = board_ms();
  tvm_boot();
  return running = 1;
}

/* The capsule kept from the last serial load, if the board has one and it loads: 1 ("K len"). */
static uint8_t load_kept(void) {
  uint16_t len = board_kept(tvm_mem, TVM_MEM_BYTES);
  if (!len || !load(len)) return 0;
  kept(len);
  return 1;
}
#endif

int main(void) {
  uint16_t k;
  uint8_t ok = 0;
  board_init();
#if RT_SERIAL
  ok = load_kept();
#endif
  if (!ok) {
    for (k = 0; k < tc_capsule_len; k++) tvm_mem[k] = tc_capsule[k];
    ok = load(tc_capsule_len);
  }
  if (ok) {
    tvm_boot(); /* now = 0 */
#if RT_SERIAL
    running = 1;
#endif
  }
#if !RT_SERIAL
  else board_exit();
#endif
#ifdef RT_STOP_ITER
  /* bench: RT_STOP_ITER input reactions at a frozen clock, between markers 1 and 2 */
  board_mark(1);
  tvm_run_pending(RT_STOP_ITER);
  board_mark(2);
  rp_str("H\n");
  board_exit();
#endif
  board_mark(1);
  for (;;) {
    uint32_t t;
#if RT_SERIAL
    sl_poll(); /* (before the clock is read: a capsule it boots has now = the clock's time) */
    if (keeping && !board_keeping()) {
      kept(keeping); /* the record is complete: the mote may be powered off */
      keeping = 0;
    }
    if (running && tvm_halted()) {
      running = 0;
      rp_str("H\n");
    }
    if (!running) {
      /* no script: wait for bytes */
      board_irq_off();
      if (!board_rx_waiting()) board_sleep();
      else board_irq_on();
      continue;
    }
#else
    if (tvm_halted()) break;
#endif
    t = board_ms();
#ifdef RT_STOP_MS
    if (t >= RT_STOP_MS) break;
#endif
    if (idle) {
      /* nothing can happen before wake_at (no interrupt of this firmware raises inputs): sleep again */
      if ((int32_t)(t - wake_at) < 0) {
        board_irq_off();
        if (board_ms() == t) board_sleep();
        else board_irq_on();
        continue;
      }
      idle = 0;
    }
    if (pending) poll(t);
    /* a timer due by t reacts at its deadline, anything else at t */
    wake_known = 0;
    if (tvm_step_at(t)) continue;
    /* idle: the next thing is a timer deadline or a conversion or send completing */
    idle = 1;
    find_wake();
    board_irq_off();
    if (board_ms() == t) board_sleep();
    else board_irq_on();
  }
  board_mark(2);
  rp_str("H\n");
  board_exit();
  return 0;
}
