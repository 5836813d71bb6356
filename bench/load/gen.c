/*
 * RTP load generator for the floor measurement of bench/load: one PCMU stream per port at
 * 20 ms (50 packets/s), 172-byte packets (RFC 3550 header + 160 µ-law bytes), the streams'
 * phases spread evenly over the 20 ms (calls that start at different moments), woken every
 * millisecond to send what is due. Even ports carry 1000 Hz, odd 1500 Hz (as caller/callee).
 *
 *   gen [--sink] <seconds> <port> [<port> ...]        (all on 127.0.0.1)
 *
 * With --sink a thread reads and discards what comes back to the generator's socket, blocked
 * in recv(2) like a real peer (sipp) waits for its RTP. Without it nothing reads: the socket
 * buffer fills and the kernel drops replies cheaply, which hides the cost a relay pays on
 * loopback to deliver a packet into a reading peer and wake it.
 *
 * Prints "sent=<packets> late_ms=<worst lateness> received=<packets>" when done.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PTIME_NS 20000000LL
#define SAMPLES 160

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* G.711 µ-law compression (the classic Sun g711.c). */
static uint8_t ulaw_encode(int16_t pcm) {
  static const int seg_end[8] = {0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF};
  int v = pcm >> 2;
  int mask;
  if (v < 0) {
    v = -v;
    mask = 0x7F;
  } else {
    mask = 0xFF;
  }
  if (v > 8159) v = 8159;
  v += 0x84 >> 2;
  int seg = 0;
  while (seg < 8 && v > seg_end[seg]) seg++;
  if (seg >= 8) return (uint8_t)(0x7F ^ mask);
  return (uint8_t)(((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask);
}

static volatile unsigned long long received = 0;

static void *sink(void *arg) {
  int fd = *(int *)arg;
  uint8_t buf[2048];
  for (;;) {
    if (recv(fd, buf, sizeof buf, 0) > 0) received++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  int with_sink = argc > 1 && strcmp(argv[1], "--sink") == 0;
  if (with_sink) {
    argv++;
    argc--;
  }
  if (argc < 3) {
    fprintf(stderr, "usage: gen [--sink] <seconds> <port> [<port> ...]\n");
    return 2;
  }
  double seconds = atof(argv[1]);
  int n = argc - 2;
  static int fd;
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  int sndbuf = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_in *to = calloc((size_t)n, sizeof *to);
  uint8_t (*pkt)[12 + SAMPLES] = calloc((size_t)n, sizeof *pkt);
  /* 160 samples hold whole periods of both tones (8 and 16/3 samples), so one payload loops. */
  uint8_t tone[2][SAMPLES];
  for (int i = 0; i < SAMPLES; i++) {
    tone[0][i] = ulaw_encode((int16_t)lrint(12000.0 * sin(2 * M_PI * 1000.0 * i / 8000.0)));
    tone[1][i] = ulaw_encode((int16_t)lrint(12000.0 * sin(2 * M_PI * 1500.0 * i / 8000.0)));
  }
  for (int i = 0; i < n; i++) {
    to[i].sin_family = AF_INET;
    to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to[i].sin_port = htons((uint16_t)atoi(argv[i + 2]));
    pkt[i][0] = 0x80; /* V=2 */
    pkt[i][1] = 0;    /* PT 0 PCMU */
    uint32_t ssrc = 0x10000u + (uint32_t)i;
    pkt[i][8] = (uint8_t)(ssrc >> 24);
    pkt[i][9] = (uint8_t)(ssrc >> 16);
    pkt[i][10] = (uint8_t)(ssrc >> 8);
    pkt[i][11] = (uint8_t)ssrc;
    memcpy(pkt[i] + 12, tone[i & 1], SAMPLES);
  }
  if (with_sink) {
    int rcvbuf = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&any, sizeof any); /* a known source address to reply to */
    pthread_t t;
    pthread_create(&t, NULL, sink, &fd);
  }
  int64_t start = now_ns();
  int64_t rounds = (int64_t)(seconds * 1e9 / PTIME_NS);
  int64_t total = rounds * n;
  int64_t next = 0; /* index of the next packet: stream next % n, round next / n */
  int64_t worst = 0;
  uint64_t sent = 0;
  struct timespec tick;
  clock_gettime(CLOCK_MONOTONIC, &tick);
  while (next < total) {
    int64_t t = now_ns() - start;
    while (next < total) {
      int64_t stream = next % n, round = next / n;
      int64_t due = round * PTIME_NS + stream * PTIME_NS / n;
      if (due > t) break;
      if (t - due > worst) worst = t - due;
      uint8_t *p = pkt[stream];
      uint16_t seq = (uint16_t)round;
      uint32_t ts = (uint32_t)(round * SAMPLES);
      p[2] = (uint8_t)(seq >> 8);
      p[3] = (uint8_t)seq;
      p[4] = (uint8_t)(ts >> 24);
      p[5] = (uint8_t)(ts >> 16);
      p[6] = (uint8_t)(ts >> 8);
      p[7] = (uint8_t)ts;
      if (sendto(fd, p, 12 + SAMPLES, 0, (struct sockaddr *)&to[stream], sizeof to[stream]) > 0) sent++;
      next++;
    }
    tick.tv_nsec += 1000000;
    if (tick.tv_nsec >= 1000000000) {
      tick.tv_nsec -= 1000000000;
      tick.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
  }
  printf("sent=%llu late_ms=%.1f received=%llu\n", (unsigned long long)sent, (double)worst / 1e6, received);
  return 0;
}
