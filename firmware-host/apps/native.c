/*
 * The three scenarios of the Terra report §8 written in plain C, on the same
 * board with the same simulated sensor (RT_SENSOR_MS) and radio (RT_RADIO_MS)
 * as the VM builds (comp/rt.c), in TinyOS's style: an event loop in which
 * each iteration of the CPU-bound loop is a posted task. SCENARIO: 1
 * CPU-bound, 2 IO-bound, 3 IO-timer. The counter goes out over the radio
 * every 10 s ("R <hex>", the same frame as the scripts' cntMsg; with
 * RT_FRAME_TIME "R <hex> @<ms>", as comp/rt.c).
 */
#include <stdint.h>
#include "../comp/board.h"
#include "../comp/report.h"

#ifndef RT_SENSOR_MS
#define RT_SENSOR_MS 10
#endif
#ifndef RT_RADIO_MS
#define RT_RADIO_MS 4
#endif
#ifndef SCENARIO
#define SCENARIO 1
#endif

static const uint16_t TABLE[8] = { 400, 420, 380, 410, 395, 405, 390, 415 };
static volatile uint32_t counter;
static volatile uint16_t value;
static uint8_t posted, sensor_busy, radio_busy, pos;
static uint32_t sensor_due, radio_due, next_timer = 10000;
static uint8_t msg[25];

static void send_counter(uint32_t now) {
  uint8_t i;
  msg[0] = 1;
  for (i = 0; i < 4; i++) msg[5 + i] = (uint8_t)(counter >> (8 * i));
  rp_str("R ");
  rp_hex(msg, sizeof msg);
#ifdef RT_FRAME_TIME
  rp_str(" @");
  rp_u32(now);
#endif
  rp_c('\n');
  radio_busy = 1;
  radio_due = now + RT_RADIO_MS;
}

static void sensor_request(uint32_t now) {
  if (sensor_busy) return;
  sensor_busy = 1;
  sensor_due = now + RT_SENSOR_MS;
}

int main(void) {
  board_init();
  board_mark(1);
#if SCENARIO == 1
  posted = 1;
#elif SCENARIO == 2
  sensor_request(0);
#endif
  for (;;) {
    uint32_t t = board_ms();
#ifdef RT_STOP_MS
    if (t >= RT_STOP_MS) break;
#endif
#ifdef RT_STOP_ITER
    /* bench at a frozen clock: RT_STOP_ITER iterations between markers 1 and 2 */
    if (counter >= RT_STOP_ITER) break;
#endif
    if ((int32_t)(t - next_timer) >= 0) {
      uint32_t now = next_timer;
      next_timer += 10000;
#if SCENARIO == 3
      sensor_request(now);
#else
      send_counter(now);
#endif
      continue;
    }
    if (sensor_busy && (int32_t)(t - sensor_due) >= 0) {
      sensor_busy = 0;
      value = TABLE[pos++ & 7];
      counter++;
#if SCENARIO == 2
      sensor_request(t);
#elif SCENARIO == 3
      send_counter(t);
#endif
      continue;
    }
    if (radio_busy && (int32_t)(t - radio_due) >= 0) {
      radio_busy = 0;
      continue;
    }
    if (posted) {
      /* the posted task: one iteration, which posts the next */
      posted = 0;
      counter++;
      posted = 1;
      continue;
    }
    board_irq_off();
    if (board_ms() == t) board_sleep();
    else board_irq_on();
  }
  board_mark(2);
  rp_str("H\n");
  board_exit();
  return 0;
}
