/*
 * The floor for bench/load: the least a receiver of the same RTP traffic must do. It binds
 * the same sockets the gateway opens for N two-leg calls (per leg an RTP port and an idle RTCP
 * port, 4 per call, 256 KiB receive buffers like rtp/RtpEndpoint), waits on them with epoll
 * (level-triggered, like libuv), reads every datagram with recvfrom (the gateway needs the
 * source address for symmetric RTP), checks the RTP header (RFC 3550 §5.1: V=2, CSRC count,
 * extension) and decodes the PCMU payload (G.711 µ-law, table) into a per-leg power-of-two
 * ring at the place its timestamp says. No jitter buffer, mixing, encoding or disk.
 * With `relay`, it also sends every RTP packet back to its source with one sendto (what a
 * B2BUA adds at the least: the gateway's `connect` sends each leg what the other one says).
 *
 *   floor <legs> [relay]
 *
 * Prints "ports p1 p2 ..." (the RTP ports, one per leg) on stdout, then on every SIGUSR1 a
 * line "packets=<received> bytes=<payload bytes> checksum=<x>" (the runner reads the
 * process's CPU from /proc/<pid>/stat at the same moments). SIGTERM ends it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RING 16384 /* samples per leg, power of two (2 s at 8 kHz) */
#define MASK (RING - 1)
#define MAX_EVENTS 256

struct leg {
  int fd;
  int anchored;
  uint32_t ts0;
  int16_t ring[RING];
};

static volatile sig_atomic_t report = 0;
static volatile sig_atomic_t stop = 0;
static void on_usr1(int s) { (void)s; report = 1; }
static void on_term(int s) { (void)s; stop = 1; }

static int16_t ulaw[256];

/* ITU-T G.711 µ-law expansion, as rtp/codecs/g711.ts builds its table. */
static void build_ulaw(void) {
  for (int i = 0; i < 256; i++) {
    int u = ~i & 0xff;
    int t = ((u & 0x0f) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    ulaw[i] = (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
  }
}

static int bind_udp(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int size = 256 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: floor <legs> [relay]\n");
    return 2;
  }
  int legs = atoi(argv[1]);
  if (legs <= 0) return 2;
  int relay = argc >= 3 && strcmp(argv[2], "relay") == 0;
  build_ulaw();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct leg *L = calloc((size_t)legs, sizeof *L);
  int *rtcp = calloc((size_t)legs, sizeof *rtcp);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (L == NULL || rtcp == NULL || ep < 0) return 1;
  printf("ports");
  for (int i = 0; i < legs; i++) {
    L[i].fd = bind_udp();
    rtcp[i] = bind_udp();
    if (L[i].fd < 0 || rtcp[i] < 0) {
      perror("floor: bind");
      return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, L[i].fd, &ev);
    struct epoll_event ev2 = {.events = EPOLLIN, .data.u32 = (uint32_t)(legs + i)};
    epoll_ctl(ep, EPOLL_CTL_ADD, rtcp[i], &ev2);
    printf(" %d", port_of(L[i].fd));
  }
  printf("\n");
  fflush(stdout);

  uint64_t packets = 0, bytes = 0;
  int64_t checksum = 0;
  uint8_t buf[2048];
  struct epoll_event events[MAX_EVENTS];
  while (!stop) {
    if (report) {
      report = 0;
      printf("packets=%llu bytes=%llu checksum=%lld\n", (unsigned long long)packets, (unsigned long long)bytes, (long long)checksum);
      fflush(stdout);
    }
    int n = epoll_wait(ep, events, MAX_EVENTS, 200);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("floor: epoll_wait");
      return 1;
    }
    for (int e = 0; e < n; e++) {
      uint32_t id = events[e].data.u32;
      int fd = id < (uint32_t)legs ? L[id].fd : rtcp[id - (uint32_t)legs];
      for (;;) {
        struct sockaddr_in from;
        socklen_t flen = sizeof from;
        ssize_t len = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (len < 0) break; /* EAGAIN: drained */
        if (id >= (uint32_t)legs) continue; /* RTCP: read and ignored */
        if (len < 12 || (buf[0] >> 6) != 2) continue;
        size_t off = 12 + 4u * (buf[0] & 0x0f);
        if (buf[0] & 0x10) {
          if ((size_t)len < off + 4) continue;
          off += 4 + 4u * (size_t)((buf[off + 2] << 8) | buf[off + 3]);
        }
        if ((size_t)len <= off || (buf[1] & 0x7f) != 0) continue; /* PCMU only */
        size_t plen = (size_t)len - off;
        if (buf[0] & 0x20) { /* padding */
          uint8_t pad = buf[len - 1];
          if (pad > plen) continue;
          plen -= pad;
        }
        uint32_t ts = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) | ((uint32_t)buf[6] << 8) | buf[7];
        struct leg *g = &L[id];
        if (!g->anchored) {
          g->anchored = 1;
          g->ts0 = ts;
        }
        uint32_t at = ts - g->ts0;
        const uint8_t *p = buf + off;
        for (size_t i = 0; i < plen; i++) g->ring[(at + i) & MASK] = ulaw[p[i]];
        checksum += g->ring[at & MASK];
        if (relay) sendto(fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
        packets++;
        bytes += plen;
      }
    }
  }
  printf("packets=%llu bytes=%llu checksum=%lld\n", (unsigned long long)packets, (unsigned long long)bytes, (long long)checksum);
  return 0;
}
