/*
 * Scalar C references for the benchmark (built by bench/ with gcc -O3 -fno-tree-vectorize).
 * The same kernels as the TypeScript ones, so bench reports a ratio, not an absolute time.
 *
 *   kernels mix  <legs> <stereo 0|1> <frames>   -> ns per output sample frame
 *   kernels g711 <samples>                      -> ns per decoded sample
 *
 * Output: one line "ns_per_sample=<x> checksum=<y>" (the checksum keeps the work alive).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FRAME 160
#define RING 16384
#define MASK (RING - 1)

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int16_t sat16(int32_t v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : (int16_t)v; }

static uint32_t seed = 12345;
static int16_t rnd16(void) {
  seed = seed * 1103515245u + 12345u;
  return (int16_t)((seed >> 8) & 0xffff) / 4;
}

/* Mix `legs` rings into one mono frame (or two halves into a stereo frame) per tick. */
static int mix(int legs, int stereo, long frames) {
  int16_t **rings = malloc(sizeof(int16_t *) * legs);
  for (int l = 0; l < legs; l++) {
    rings[l] = malloc(sizeof(int16_t) * RING);
    for (int i = 0; i < RING; i++) rings[l][i] = rnd16();
  }
  int16_t out[FRAME * 2];
  long ticks = frames / FRAME;
  int64_t checksum = 0;
  double t0 = now_ns();
  for (long t = 0; t < ticks; t++) {
    int base = (int)((t * FRAME) & MASK);
    if (base + FRAME > RING) base = 0;
    if (!stereo) {
      for (int i = 0; i < FRAME; i++) {
        int32_t acc = 0;
        for (int l = 0; l < legs; l++) acc += rings[l][base + i];
        out[i] = sat16(acc);
      }
    } else {
      int half = legs / 2;
      for (int i = 0; i < FRAME; i++) {
        int32_t a = 0, b = 0;
        for (int l = 0; l < half; l++) a += rings[l][base + i];
        for (int l = half; l < legs; l++) b += rings[l][base + i];
        out[2 * i] = sat16(a);
        out[2 * i + 1] = sat16(b);
      }
    }
    checksum += out[t % FRAME];
  }
  double ns = now_ns() - t0;
  printf("ns_per_sample=%.4f checksum=%lld\n", ns / (double)(ticks * FRAME), (long long)checksum);
  return 0;
}

/* G.711 mu-law decode through a 256-entry table (ITU-T G.711 expansion). */
static int g711(long samples) {
  int16_t table[256];
  for (int i = 0; i < 256; i++) {
    int u = ~i & 0xff;
    int t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    table[i] = (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
  }
  uint8_t in[FRAME];
  for (int i = 0; i < FRAME; i++) in[i] = (uint8_t)rnd16();
  int16_t out[FRAME];
  long packets = samples / FRAME;
  int64_t checksum = 0;
  double t0 = now_ns();
  for (long p = 0; p < packets; p++) {
    in[p % FRAME] = (uint8_t)p;
    for (int i = 0; i < FRAME; i++) out[i] = table[in[i]];
    checksum += out[p % FRAME];
  }
  double ns = now_ns() - t0;
  printf("ns_per_sample=%.4f checksum=%lld\n", ns / (double)(packets * FRAME), (long long)checksum);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "mix") == 0) return mix(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
  if (argc >= 3 && strcmp(argv[1], "g711") == 0) return g711(atol(argv[2]));
  fprintf(stderr, "usage: kernels mix <legs> <stereo> <frames> | kernels g711 <samples>\n");
  return 2;
}
