/*
 * simrun: run a MicaZ (ATmega128) firmware image on simavr and report what
 * the bench and the tests need, which the simavr command line does not:
 *
 *   simrun [-f HZ] [-c MAX_CYCLES] [-q] [-l] [-u] [-r] [-e EEPROM] [-p PROFILE] firmware.elf
 *
 * - UART0 output goes to stdout byte for byte (the firmware's reports);
 * - with -u, stdin goes to UART0's receiver (paced by simavr's XON/XOFF, read
 *   every simulated millisecond; `terra load --sim` sends capsules so), and
 *   stdout is flushed at each line;
 * - with -r, the simulation keeps to the wall clock (it never runs ahead);
 * - with -e FILE, the EEPROM's 4 KB come from FILE (when it exists) and go
 *   back to it at the end: a reset between two runs (SIGTERM and SIGINT end
 *   a run as MAX_CYCLES does, "end stopped");
 * - every write to PORTC prints a marker line to stderr:
 *     "mark VALUE CYCLE ACTIVE"  (cycles since reset; active = not sleeping)
 * - with -l, every change of the LEDs (PA0..PA2, active low) prints
 *     "leds VALUE MS"  (bit 0 LED0 .. bit 2 LED2 lit; simulated milliseconds)
 * - "stack LOWEST" on stderr: the lowest stack pointer seen (RAM use);
 * - at the end (the firmware ends with cli + sleep, or MAX_CYCLES passed):
 *     "end STATE CYCLES ACTIVE IDLE" on stderr.
 * Active cycles are those the CPU did not spend in a sleep mode, which is how
 * the Terra report's Avrora figures split active and idle time.
 *
 * Links libsimavr (pkg-config simavr) and libelf.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/avr_uart.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_eeprom.h>

static avr_t *avr;
static uint32_t freq = 7372800;
static int last_leds = -1;
static uint64_t idle_cycles;
static uint16_t min_sp = 0xffff;

/* Sleeping costs no wall time (simavr's default sleeps in real time); count the cycles as idle. */
static void sleep_cb(avr_t *a, avr_cycle_count_t how_long) {
  (void)a;
  idle_cycles += how_long;
}

static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)param;
  putchar((int)(value & 0xff));
}

static void port_write(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)param;
  fflush(stdout);
  fprintf(stderr, "mark %u %llu %llu\n", value & 0xff, (unsigned long long)avr->cycle, (unsigned long long)(avr->cycle - idle_cycles));
}

static void leds_write(struct avr_irq_t *irq, uint32_t value, void *param) {
  int v = (int)(~value & 7);
  (void)irq;
  (void)param;
  if (v == last_leds) return;
  last_leds = v;
  fflush(stdout);
  fprintf(stderr, "leds %d %llu\n", v, (unsigned long long)(avr->cycle * 1000 / freq));
}

/* -u: bytes read from stdin, not yet given to the UART, which may refuse more (XOFF) */
static avr_irq_t *uart_in;
static uint8_t in_buf[4096];
static size_t in_len, in_pos;
static int in_open = 1, xoff;

static void uart_xon(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)value;
  (void)param;
  xoff = 0;
}

static void uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)value;
  (void)param;
  xoff = 1;
}

static void feed_uart(void) {
  if (in_pos == in_len && in_open) {
    ssize_t r = read(0, in_buf, sizeof in_buf);
    if (r > 0) {
      in_len = (size_t)r;
      in_pos = 0;
    } else if (r == 0 || errno != EAGAIN) {
      in_open = 0; /* end of input: the mote runs on */
    }
  }
  /* bytes wait here until the firmware enables the receiver (UCSR0B's RXEN0): simavr 1.6 never
   * delivered bytes given to it before, nor any after them */
  if (!(avr->data[0x2a] & 0x10)) return;
  while (!xoff && in_pos < in_len) avr_raise_irq(uart_in, in_buf[in_pos++]);
}

static volatile sig_atomic_t stop_req;

static void on_signal(int sig) {
  (void)sig;
  stop_req = 1;
}

/* -e: the EEPROM to or from a file (4 KB on the ATmega128) */
static int eeprom_file(const char *path, int save) {
  static uint8_t ee[4096];
  avr_eeprom_desc_t d = { ee, 0, sizeof ee };
  FILE *f = fopen(path, save ? "wb" : "rb");
  if (!f) return save ? -1 : 0; /* no file yet: the EEPROM stays erased */
  if (save) {
    d.ee = NULL;
    avr_ioctl(avr, AVR_IOCTL_EEPROM_GET, &d);
    if (!d.ee || fwrite(d.ee, 1, sizeof ee, f) != sizeof ee) {
      fclose(f);
      return -1;
    }
  } else {
    d.size = (uint32_t)fread(ee, 1, sizeof ee, f);
    avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &d);
  }
  return fclose(f);
}

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void) {
  fprintf(stderr, "usage: simrun [-f HZ] [-c MAX_CYCLES] [-q] [-l] [-u] [-r] [-e EEPROM] [-p PROFILE] firmware.elf\n");
  return 2;
}

int main(int argc, char **argv) {
  elf_firmware_t fw;
  uint64_t max_cycles = 0;
  int opt, quiet = 0, leds = 0, input = 0, realtime = 0;
  uint64_t next_ms = 0;
  double wall0 = wall_s();
  const char *profile = NULL, *eeprom = NULL;
  static uint64_t *pcs;
  const char *state = "?";
  memset(&fw, 0, sizeof fw);
  while ((opt = getopt(argc, argv, "f:c:qlurp:e:")) != -1) {
    if (opt == 'p') profile = optarg;
    else if (opt == 'f') freq = (uint32_t)strtoul(optarg, NULL, 10);
    else if (opt == 'c') max_cycles = strtoull(optarg, NULL, 10);
    else if (opt == 'q') quiet = 1;
    else if (opt == 'l') leds = 1;
    else if (opt == 'u') input = 1;
    else if (opt == 'r') realtime = 1;
    else if (opt == 'e') eeprom = optarg;
    else return usage();
  }
  if (optind >= argc || !freq) return usage();
  if (input) setvbuf(stdout, NULL, _IOLBF, 0); /* the host answers each line (before any output) */
  {
    /* the loader prints to stdout, which carries the UART output */
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY), r;
    fflush(stdout);
    dup2(devnull, 1);
    r = elf_read_firmware(argv[optind], &fw);
    fflush(stdout);
    dup2(saved, 1);
    close(devnull);
    close(saved);
    if (r != 0) {
      fprintf(stderr, "simrun: cannot read %s\n", argv[optind]);
      return 2;
    }
  }
  avr = avr_make_mcu_by_name("atmega128");
  if (!avr) {
    fprintf(stderr, "simrun: simavr has no atmega128\n");
    return 2;
  }
  avr_init(avr);
  avr->frequency = freq;
  avr->log = quiet ? LOG_NONE : LOG_WARNING;
  {
    /* the loader prints to stdout, which carries the UART output */
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    fflush(stdout);
    dup2(devnull, 1);
    avr_load_firmware(avr, &fw);
    fflush(stdout);
    dup2(saved, 1);
    close(devnull);
    close(saved);
  }
  avr->sleep = sleep_cb;
  {
    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    /* no console echo, and no usleep while the firmware polls the UART status */
    flags &= ~(uint32_t)(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
  }
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('C'), IOPORT_IRQ_REG_PORT), port_write, NULL);
  if (leds) avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('A'), IOPORT_IRQ_REG_PORT), leds_write, NULL);
  if (eeprom && eeprom_file(eeprom, 0) != 0) {
    fprintf(stderr, "simrun: cannot read %s\n", eeprom);
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  if (input) {
    uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff, NULL);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  }
  if (profile) pcs = calloc(65536, sizeof *pcs);
  for (;;) {
    uint16_t sp = (uint16_t)(avr->data[0x5d] | (avr->data[0x5e] << 8));
    uint32_t pc = avr->pc;
    uint64_t before = avr->cycle;
    int s = avr_run(avr);
    if (sp && sp < min_sp) min_sp = sp;
    if (pcs && avr->state == cpu_Running) pcs[(pc >> 1) & 0xffff] += avr->cycle - before;
    if (s == cpu_Done) {
      state = "done";
      break;
    }
    if (s == cpu_Crashed) {
      state = "crashed";
      break;
    }
    if ((input || realtime) && avr->cycle >= next_ms) {
      /* once a simulated millisecond */
      next_ms = avr->cycle + freq / 1000;
      if (input) feed_uart();
      if (realtime) {
        double ahead = (double)avr->cycle / freq - (wall_s() - wall0);
        if (ahead > 0.001) {
          struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
          fflush(stdout);
          nanosleep(&ts, NULL);
        }
      }
    }
    if (stop_req) {
      state = "stopped";
      break;
    }
    if (max_cycles && avr->cycle >= max_cycles) {
      state = "limit";
      break;
    }
  }
  if (pcs) {
    /* -p FILE: active cycles per instruction address (word address * 2), for profiling */
    FILE *f = fopen(profile, "w");
    uint32_t i;
    for (i = 0; f && i < 65536; i++) if (pcs[i]) fprintf(f, "%x %llu\n", i * 2, (unsigned long long)pcs[i]);
    if (f) fclose(f);
  }
  if (eeprom && eeprom_file(eeprom, 1) != 0) fprintf(stderr, "simrun: cannot write %s\n", eeprom);
  fflush(stdout);
  fprintf(stderr, "stack %u\n", min_sp);
  fprintf(stderr, "end %s %llu %llu %llu\n", state, (unsigned long long)avr->cycle, (unsigned long long)(avr->cycle - idle_cycles),
          (unsigned long long)idle_cycles);
  return strcmp(state, "crashed") == 0 ? 1 : 0;
}
