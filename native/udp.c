/*
 * recgate's batched UDP path for RTP (Linux, IPv4): the sockets of every RtpEndpoint in one
 * epoll set, drained with recvmmsg(2) by a receive thread (or, with the thread off, on the event
 * loop when libuv reports the set readable), and all packets of a wake-up handed to JavaScript
 * in ONE call; sends go through a send thread (or one synchronous sendto(2) each).
 *
 * Why: through node:dgram every datagram costs a libuv callback, a new Buffer and a new rinfo
 * object with an address string (about 6 µs of a 20 µs packet budget under load), and every
 * send a SendWrap, a DNS-lookup tick and a libuv write request (about 8 µs against 2.4 µs for
 * sendto in C). This file keeps the per-packet work in C and leaves JavaScript one function
 * call per wake-up. Metadata goes to a shared Int32Array, payloads are copied compactly into a
 * JavaScript-owned arena (the jitter buffer keeps packets by reference, so the arena is never
 * reused: JavaScript swaps in a fresh one when it fills up).
 *
 * Each Node environment that loads the addon (the main thread, each worker thread) has an
 * instance of all of this (udp_t): its own sockets, threads, rings and relay table. When the
 * environment ends its threads are joined and its sockets closed (on_env_cleanup).
 *
 * JavaScript API (rtp/nativeUdp.ts wraps it; per instance):
 *   start(meta: Int32Array, arena: Uint8Array, onBatch: (count, arenaFull) => void, sendThread: boolean, recvThread: boolean)
 *   setArena(arena: Uint8Array)                     a fresh arena; writing restarts at 0
 *   open(ip4: number, port: number, rcvbuf: number, id: number) -> fd >= 0 or -errno
 *   close(fd: number, id: number)                   the socket opened with `id`; its relays end
 *   send(fd, bytes: Uint8Array, offset, length, ip4, port) -> 0 or -errno (never blocks; with the
 *     send thread: queued, or -ENOBUFS when 8192 packets already wait)
 *   kick()                                          wakes the send thread for what send() queued
 *   poll()                                          reads the sockets now (onBatch runs inside)
 *   testRecvDelay(us)                               tests only: the receive thread pauses between
 *                                                   epoll_wait and its reads (widens a close race)
 *   relayProbe(id) -> [slots, found]                tests only: index slots a relay lookup of `id` reads
 *   stats() -> [wakeups, batches, packets, truncated, sendThread, threadSent, threadErrors, queueDrops,
 *               sendThreadKicks, sendThreadMissedKicks, polls, recvThread, recvRounds, recvRingFullWaits,
 *               recvRingHighWater, relayedOnRecvThread]
 * meta holds, per packet k, META_FIELDS int32s at k * META_FIELDS: id, arena offset, length,
 * source IPv4 (host order, as int32), source port, and its age in microseconds when the batch is
 * handed over (how long it waited since it was read from its socket: in the receive ring while
 * the event loop was busy). A receiver places the first packet of a stream at its arrival, not
 * at its hand-over: under load the two are up to hundreds of ms apart, and two legs anchored
 * at their hand-overs would be out of step by the difference (see MixerInput.arrivalMs).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define META_FIELDS 6
#define BATCH 64         /* datagrams per recvmmsg */
#define SLOT 2048        /* bytes per datagram; RTP over Ethernet fits in 1500 */
#define MAX_EVENTS 256   /* ready sockets per epoll_wait */
#define MAX_PER_WAKE 2048 /* packets per wake-up, then timers run (the frame tick): ~20 ms of traffic at 1,000 calls */
#define POLL_CAP 65536    /* packets per poll(): what ~16 MB of socket buffers could hold */

typedef struct {
  napi_env env;
  napi_ref on_batch;
  napi_ref meta_ref;
  napi_ref arena_ref;
  napi_async_context async;
  int32_t *meta;
  size_t meta_capacity; /* packets */
  uint64_t *arrived;    /* per meta record: when it was read from its socket (CLOCK_MONOTONIC ns) */
  uint8_t *arena;
  size_t arena_len;
  size_t arena_pos;
  int epfd;
  uv_poll_t poll;
  int poll_inited;
  int started;
  unsigned closes; /* sockets closed so far: a close during a batch ends that batch */
  unsigned open;   /* sockets open now */
  double wakeups, batches, packets, truncated, polls;
  /* A drain is handing packets over: poll() from inside it (a handler, or a microtask after a
   * batch) returns at once; a nested drain would move the ring's tail and the arena under it. */
  int delivering;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  uint8_t scratch[BATCH][SLOT];
  struct epoll_event events[MAX_EVENTS];
} state_t;

#define SQ_SLOTS 8192 /* packets in flight: ~80 ms at 100,000 packets/s */
#define SQ_BYTES 1536 /* largest datagram queued; larger ones are refused (RTP fits) */
#define SQ_SAFETY_NS 20000000L /* 20 ms: the longest the send thread sleeps without a kick */
#define SQ_CLOSE (-1) /* a slot that closes its descriptor instead of sending */

typedef struct {
  int32_t fd;
  int32_t length;
  uint32_t ip;
  uint16_t port;
  uint8_t data[SQ_BYTES];
} send_slot_t;

typedef struct {
  int on;
  send_slot_t *slots;
  _Atomic uint64_t head; /* written by the media thread */
  _Atomic uint64_t tail; /* written by the send thread */
  _Atomic int sleeping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  _Atomic uint64_t sent, errors, dropped;
  /* Wake-ups of the send thread by a kick, and by its safety timeout with packets waiting:
   * rarely the timeout lands between a batch's first send and its kick; more often means
   * kicks are missing (the test allows 2 in 20 batches; without kicks all 20 wait). */
  _Atomic uint64_t kicks, missed;
  int devnull; /* dup2()ed over a closed socket's descriptor until the send thread closes it */
  /* A second ring, produced by the receive thread: its relayed packets (see relay_packet). The
   * receive thread only copies them here, so a round over the sockets stays short and packets
   * reach JavaScript (the recordings) without waiting behind loopback sends. */
  send_slot_t *rslots;
  _Atomic uint64_t rhead, rtail;
} sendq_t;

#define RX_RING ((size_t)8 << 20) /* bytes: ~45,000 PCMU datagrams, 0.45 s at 1,000 calls */
#define RX_HDR 24
#define RX_WRAP (-2)
#define RX_ROUND_NS 1000000L      /* 1 ms between rounds: batches of ~100 datagrams at 1,000 calls */
#define RX_ROOM_WAIT_NS 10000000L /* a full ring is checked again at least every 10 ms */

typedef struct {
  int on;
  uint8_t *ring;
  _Atomic uint64_t head; /* bytes written, by the thread (release) */
  _Atomic uint64_t tail; /* bytes consumed, by the event loop (release) */
  pthread_mutex_t lock;  /* the thread while it reads sockets; close() */
  pthread_mutex_t mu;    /* for rx_cv */
  pthread_cond_t rx_cv;  /* the thread waits: room in the ring, the end of a gathering pause */
  _Atomic int waiting;   /* the thread waits for room */
  _Atomic unsigned closes;
  uv_async_t async;
  int async_inited;
  _Atomic uint64_t rounds, full_waits, high_water;
  /* A batch read from a socket when the ring was full: pushed before anything else. */
  int32_t pend_id;
  int pend_from, pend_n;
  uint64_t pend_at;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  uint8_t scratch[BATCH][SLOT];
  struct epoll_event events[MAX_EVENTS];
} recvq_t;

#define RELAY_SLOTS 8192 /* relaying sources at once: two per bridged call */
#define INDEX_BITS 14    /* twice the entries: chains stay short */
#define INDEX_SLOTS (1u << INDEX_BITS)
#define INDEX_MASK (INDEX_SLOTS - 1)

typedef struct {
  int32_t src_id; /* 0: free */
  int32_t dst_id;
  int src_fd, dst_fd;
  uint32_t src_ip, dst_ip; /* host order; 0 with port 0: not known yet */
  uint16_t src_port, dst_port;
  uint8_t match_pt, out_pt;
  uint32_t ssrc, ts_per_packet;
  /* forward()'s state */
  int active, relaying, talkspurt, resume_seq;
  uint16_t seq_off, next_seq, pk_seq;
  uint32_t ts_off, next_ts, pk_ts;
  _Atomic uint64_t relayed; /* read by relayCount() without the lock */
} relay_t;

typedef struct {
  relay_t relays[RELAY_SLOTS];
  /* Free entries, a stack of indexes. */
  uint16_t free[RELAY_SLOTS];
  unsigned free_top;
  /* Entry index + 1 (0: empty), keyed by the entry's src_id (by_src) or dst_id (by_dst). */
  uint16_t by_src[INDEX_SLOTS], by_dst[INDEX_SLOTS];
} relay_table_t;

/*
 * One instance per Node environment (the main thread, and each worker thread that loads the
 * addon): its own epoll set, receive and send threads, rings and relay table, found through
 * napi_get_instance_data. A media worker per core needs exactly that: its sockets, their
 * packets and their relays stay on its own threads. When the environment goes (a worker ends)
 * its threads are stopped and joined, its sockets closed and its memory freed (on_env_cleanup).
 */
typedef struct {
  state_t s;
  sendq_t q;
  recvq_t r;
  relay_table_t *t; /* allocated at the first relay */
  unsigned relay_count;
  _Atomic uint64_t relay_total; /* packets relayed by the receive thread, all sockets, since start */
  uint8_t relay_buf[SQ_BYTES];
  /* Tests only (testRecvDelay()): a pause between epoll_wait and reading the sockets it
   * reported, to widen the window in which a close makes that list stale. */
  _Atomic long rx_test_delay_ns;
  uint64_t ring_read_pos; /* drain_ring: the ring's records staged so far */
  /* Teardown: the threads, the eventfd that wakes the receive thread out of epoll_wait, and
   * the descriptors JavaScript opened and has not closed (closed for it when the environment goes). */
  pthread_t send_tid, rx_tid;
  _Atomic int stopping;
  int wake_fd;
  int *fds;
  size_t nfds, fds_cap;
  unsigned handles_open; /* uv handles still to close at teardown */
  napi_async_cleanup_hook_handle cleanup;
} udp_t;

/* S, Q, R and T name the parts of the instance `u` in scope. */
#define S (u->s)
#define Q (u->q)
#define R (u->r)
#define T (u->t)

/*
 * The send thread. On loopback a sendto(2) also delivers the packet into the peer's socket and
 * wakes the peer, inside the sender's syscall: bench:load's profile put about 65 % of the
 * media thread there. send() therefore only copies the packet into this single-producer,
 * single-consumer ring (the media thread produces, the send thread consumes) and the send
 * thread makes the syscalls on another core. Packets of one socket leave in order. close()
 * releases the socket at once (its port is free again) by dup2()ing /dev/null over its
 * descriptor, and queues the close of that placeholder behind the socket's packets: the
 * number is not reused while packets for it wait (they fail with ENOTSOCK, uncounted).
 */

/* The IPv4 destination of a send (host-order address and port). */
static struct sockaddr_in ipv4_to(uint32_t ip, uint16_t port) {
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(ip);
  to.sin_port = htons(port);
  return to;
}

/* One queued datagram out. */
static void sq_send(udp_t *u, const send_slot_t *s) {
  struct sockaddr_in to = ipv4_to(s->ip, s->port);
  if (sendto(s->fd, s->data, (size_t)s->length, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to) >= 0) atomic_fetch_add(&Q.sent, 1);
  else if (errno != ENOTSOCK) atomic_fetch_add(&Q.errors, 1); /* ENOTSOCK: its socket was closed after it was queued */
}

/* Sends what the receive thread queued, up to the head seen now; returns the new tail. */
static uint64_t sq_drain_relays(udp_t *u, uint64_t rt) {
  uint64_t rh = atomic_load_explicit(&Q.rhead, memory_order_acquire);
  for (; rt != rh; rt++) {
    sq_send(u, &Q.rslots[rt & (SQ_SLOTS - 1)]);
    atomic_store_explicit(&Q.rtail, rt + 1, memory_order_release);
  }
  return rt;
}

static void *send_thread(void *arg) {
  udp_t *u = arg;
  pthread_setname_np(pthread_self(), "recgate-udp-tx"); /* top -H, /proc/<pid>/task/<tid>/comm */
  uint64_t t = atomic_load(&Q.tail);
  uint64_t rt = atomic_load(&Q.rtail);
  for (;;) {
    rt = sq_drain_relays(u, rt);
    uint64_t h = atomic_load_explicit(&Q.head, memory_order_acquire);
    if (t == h) {
      /* Teardown (the receive thread has ended): everything queued has gone out. */
      if (atomic_load(&u->stopping) && atomic_load(&Q.rhead) == rt) break;
      pthread_mutex_lock(&Q.lock);
      atomic_store(&Q.sleeping, 1);
      /* seq_cst store then load, against the producer's store of head then load of sleeping:
       * one of the two sees the other, so a packet never waits for the next one. */
      while (atomic_load(&Q.head) == t && atomic_load(&Q.rhead) == rt && !atomic_load(&u->stopping)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SQ_SAFETY_NS;
        if (until.tv_nsec >= 1000000000L) {
          until.tv_sec++;
          until.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&Q.wake, &Q.lock, &until) == ETIMEDOUT && (atomic_load(&Q.head) != t || atomic_load(&Q.rhead) != rt))
          atomic_fetch_add(&Q.missed, 1);
      }
      atomic_store(&Q.sleeping, 0);
      pthread_mutex_unlock(&Q.lock);
      continue;
    }
    for (; t != h; t++) {
      send_slot_t *s = &Q.slots[t & (SQ_SLOTS - 1)];
      if (s->length == SQ_CLOSE) {
        /* Relays to this descriptor were queued before close() removed them (it holds the
         * receive thread's lock): send those first, so none goes out of a socket that later
         * takes the number. */
        rt = sq_drain_relays(u, rt);
        close(s->fd);
        continue;
      }
      sq_send(u, s);
      atomic_store_explicit(&Q.tail, t + 1, memory_order_release);
    }
    atomic_store_explicit(&Q.tail, t, memory_order_release);
  }
  return NULL;
}

/* Claims the next slot, or NULL when the ring is full. */
static send_slot_t *sq_claim(udp_t *u) {
  uint64_t h = atomic_load_explicit(&Q.head, memory_order_relaxed);
  if (h - atomic_load_explicit(&Q.tail, memory_order_acquire) >= SQ_SLOTS) return NULL;
  return &Q.slots[h & (SQ_SLOTS - 1)];
}

/* Wakes the send thread if it sleeps with packets waiting. */
static void sq_kick(udp_t *u) {
  if (atomic_load(&Q.sleeping) && (atomic_load(&Q.head) != atomic_load(&Q.tail) || atomic_load(&Q.rhead) != atomic_load(&Q.rtail))) {
    atomic_fetch_add(&Q.kicks, 1);
    pthread_mutex_lock(&Q.lock);
    pthread_cond_signal(&Q.wake);
    pthread_mutex_unlock(&Q.lock);
  }
}

/* Makes the claimed slot visible to the send thread, without waking it: sends are published
 * one by one and the thread is woken once per batch (kick(), called by JavaScript after the
 * callback that sent them), not once per packet: a futex wake per packet cost the media
 * thread ~3,000 context switches/s at 400 calls. */
static void sq_publish(udp_t *u) {
  atomic_fetch_add(&Q.head, 1); /* seq_cst: see send_thread */
}

/* Starts a thread running fn(u); 0 or -1. Joined at teardown (on_env_cleanup). */
static int start_thread(udp_t *u, pthread_t *t, void *(*fn)(void *)) {
  return pthread_create(t, NULL, fn, u) == 0 ? 0 : -1;
}

/* Points each of BATCH recvmmsg headers at its scratch slot and source address. */
static void init_msgs(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_in *from, uint8_t (*scratch)[SLOT]) {
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = scratch[i];
    iov[i].iov_len = SLOT;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
  }
}

static int sq_start(udp_t *u) {
  Q.slots = calloc(SQ_SLOTS, sizeof(send_slot_t));
  Q.rslots = calloc(SQ_SLOTS, sizeof(send_slot_t));
  Q.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (Q.slots == NULL || Q.rslots == NULL || Q.devnull < 0 || start_thread(u, &u->send_tid, send_thread) < 0) return -1;
  Q.on = 1;
  return 0;
}

/*
 * The receive thread. Reading the sockets on the event loop cost the media thread a recvmmsg(2)
 * per ready socket per wake-up (about a fifth of its time at 600 calls), and packets waited in
 * the kernel whenever JavaScript was busy (a frame tick, a collection, an API request). This
 * thread reads every ready socket into a single-producer, single-consumer byte ring and wakes
 * the loop (uv_async_send, which coalesces); the loop copies the records into the arena and
 * meta array, exactly as the thread-less path does from recvmmsg, and hands them over in one
 * call. Records: int32 id, int32 length, uint32 source IPv4 (host order), int32 source port,
 * uint64 read time (CLOCK_MONOTONIC ns), then the payload, each padded to 8 bytes; an id of
 * RX_WRAP sends the reader to the ring's start.
 *
 * Batching: after a round over the ready sockets the thread lets about RX_ROUND_NS of traffic
 * collect before the next one, so a round reads many packets at ~1,000 rounds/s at most, not
 * one wake-up per packet. poll() (the media clock, before it mixes) hands over what the ring
 * holds without waiting for the thread: the thread reads whatever JavaScript does, so packets
 * wait in the sockets about a round at most, against a 60 ms playout delay. (A first version
 * had poll() ask for a round and wait for it: on a busy 2-core machine that wait delayed the
 * clock, the event-loop delay p99 went from 75 to 750 ms and the drift controller worked 70x
 * harder; without it the media thread's CPU fell 22 % and the p99 to 50 ms.)
 *
 * Closing: close() takes `lock`, which the thread holds while it reads a socket of one
 * epoll_wait(2) list; a close since that epoll_wait bumps `closes`, and the thread drops the rest of that stale list
 * (a descriptor number may have been reused). Records carry the socket's id, never reused, so a
 * record of a closed socket is counted stale by JavaScript, never given to another socket.
 * When the ring is full the thread keeps what it read aside, waits for room, and leaves the rest
 * in the kernel's socket buffers: nothing it read is dropped.
 */


/* Now on CLOCK_MONOTONIC, in ns: when a datagram was read (one reading per recvmmsg). */
static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void deadline_in(struct timespec *t, long ns) {
  clock_gettime(CLOCK_REALTIME, t);
  t->tv_nsec += ns;
  while (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

/* Appends one datagram, read at `at`, to the ring; 0 when there is no room. */
static int rx_push(udp_t *u, int32_t id, int i, uint64_t at) {
  size_t len = R.msgs[i].msg_len;
  size_t need = RX_HDR + ((len + 7) & ~(size_t)7);
  uint64_t h = atomic_load_explicit(&R.head, memory_order_relaxed);
  uint64_t used = h - atomic_load_explicit(&R.tail, memory_order_acquire);
  size_t pos = (size_t)(h & (RX_RING - 1));
  size_t waste = pos + need > RX_RING ? RX_RING - pos : 0; /* a record never wraps: skip to the start */
  if (RX_RING - used < waste + need) return 0;
  if (waste > 0) {
    *(int32_t *)(R.ring + pos) = RX_WRAP;
    h += waste;
    pos = 0;
  }
  int32_t *r = (int32_t *)(R.ring + pos);
  r[0] = id;
  r[1] = (int32_t)len;
  r[2] = (int32_t)ntohl(R.from[i].sin_addr.s_addr);
  r[3] = ntohs(R.from[i].sin_port);
  *(uint64_t *)(r + 4) = at; /* 8-aligned: records start on 8-byte boundaries */
  if (R.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) S.truncated++; /* a double, read by stats() only: a torn read is harmless */
  memcpy(R.ring + pos + RX_HDR, R.scratch[i], len);
  atomic_store_explicit(&R.head, h + need, memory_order_release);
  if (used + waste + need > atomic_load_explicit(&R.high_water, memory_order_relaxed)) atomic_store_explicit(&R.high_water, used + waste + need, memory_order_relaxed);
  return 1;
}

/*
 * Relay on the receive thread (rtp/AudioSender.ts forward(), in C): when a bridged call's two
 * legs share codec and ptime, the thread sends each audio packet of one leg to the other as it
 * reads it, before JavaScript sees it (JavaScript still gets it, to record). Bridged audio then
 * never waits for the event loop: a collection or a slow API request does not hold it up.
 * JavaScript attaches a source socket with the sender's whole relay state and reads that state
 * back when it detaches, so the stream carries on across a switch in either direction exactly
 * as forward() would (see there for the rules). Entries sit in a fixed array (they never move
 * while in use) and are found through two open-addressing indexes, by source socket id and by
 * destination socket id, each read and written under R.lock.
 *
 * The indexes delete by shifting entries back (linear probing without tombstones). The first
 * table marked deleted slots and cleared them only when no relay was left, which a busy
 * gateway never reaches: after some thousands of calls no slot was empty, and every lookup
 * that missed (each packet of a socket that does not relay: RTCP, recorded-only calls) probed
 * all 8,192 slots.
 */

static inline unsigned index_home(int32_t key) { return ((uint32_t)key * 2654435761u) >> (32 - INDEX_BITS); }

static inline int32_t index_key(udp_t *u, const uint16_t *tab, uint16_t v) {
  return tab == T->by_src ? T->relays[v - 1].src_id : T->relays[v - 1].dst_id;
}

static void index_add(udp_t *u, uint16_t *tab, int32_t key, unsigned e) {
  unsigned i = index_home(key);
  while (tab[i] != 0) i = (i + 1) & INDEX_MASK;
  tab[i] = (uint16_t)(e + 1);
}

/* Removes entry e (whose key is `key`), moving later entries of the chain back into the hole. */
static void index_remove(udp_t *u, uint16_t *tab, int32_t key, unsigned e) {
  unsigned i = index_home(key);
  while (tab[i] != e + 1) {
    if (tab[i] == 0) return;
    i = (i + 1) & INDEX_MASK;
  }
  for (unsigned j = (i + 1) & INDEX_MASK; tab[j] != 0; j = (j + 1) & INDEX_MASK) {
    unsigned home = index_home(index_key(u, tab, tab[j]));
    /* The entry at j may fill the hole when the hole lies between its home and j. */
    if (((j - home) & INDEX_MASK) >= ((j - i) & INDEX_MASK)) {
      tab[i] = tab[j];
      i = j;
    }
  }
  tab[i] = 0;
}

/* The next entry of `tab` whose key is `key`, from slot *pos on (start at index_home(key));
 * *pos is left after it. NULL at the end of the chain. */
static relay_t *index_next(udp_t *u, const uint16_t *tab, int32_t key, unsigned *pos) {
  for (unsigned i = *pos; tab[i] != 0; i = (i + 1) & INDEX_MASK) {
    if (index_key(u, tab, tab[i]) == key) {
      *pos = (i + 1) & INDEX_MASK;
      return &T->relays[tab[i] - 1];
    }
  }
  return NULL;
}

static relay_t *relay_find(udp_t *u, int32_t id) {
  if (u->relay_count == 0) return NULL;
  unsigned pos = index_home(id);
  return index_next(u, T->by_src, id, &pos);
}

/* Sets the entry's destination socket id, keeping by_dst in step. */
static void relay_set_dst(udp_t *u, relay_t *r, int32_t dst_id) {
  if (r->dst_id == dst_id) return;
  unsigned e = (unsigned)(r - T->relays);
  if (r->dst_id > 0) index_remove(u, T->by_dst, r->dst_id, e);
  r->dst_id = dst_id;
  if (dst_id > 0) index_add(u, T->by_dst, dst_id, e);
}

static void relay_delete(udp_t *u, relay_t *r) {
  unsigned e = (unsigned)(r - T->relays);
  index_remove(u, T->by_src, r->src_id, e);
  relay_set_dst(u, r, 0);
  r->src_id = 0;
  T->free[T->free_top++] = (uint16_t)e;
  u->relay_count--;
}

static relay_t *relay_insert(udp_t *u, int32_t id) {
  if (T == NULL) {
    /* ~0.8 MiB, only for an instance that relays (lookups see relay_count 0 until then). */
    if ((T = calloc(1, sizeof *T)) == NULL) return NULL;
    for (unsigned k = 0; k < RELAY_SLOTS; k++) T->free[k] = (uint16_t)(RELAY_SLOTS - 1 - k);
    T->free_top = RELAY_SLOTS;
  }
  if (T->free_top == 0) return NULL;
  unsigned e = T->free[--T->free_top];
  relay_t *r = &T->relays[e];
  memset(r, 0, sizeof *r);
  r->src_id = id;
  index_add(u, T->by_src, id, e);
  u->relay_count++;
  return r;
}

/* Deletes the relays whose source or destination is socket `id` (the socket closes). */
static void relay_forget_socket(udp_t *u, int32_t id) {
  relay_t *r = relay_find(u, id);
  if (r != NULL) relay_delete(u, r);
  /* Each deletion may shift the chain back: look again from the home each time. */
  for (unsigned pos = index_home(id); (r = index_next(u, T->by_dst, id, &pos)) != NULL; pos = index_home(id)) relay_delete(u, r);
}

/* RFC 3550 §5.1, as RtpHeaderReader.parse: V=2, not RTCP (RFC 5761 §4), at least 12 bytes, CSRCs,
 * extension and padding within. The payload's offset and length; -1 for anything else. The
 * fuzz target rtp-header checks it against RtpHeaderReader (rtpPayload()). */
static int rtp_payload(const uint8_t *p, size_t len, size_t *off, size_t *plen) {
  if (len < 12 || (p[0] >> 6) != 2 || (p[1] >= 192 && p[1] <= 223)) return -1;
  size_t pos = 12 + 4 * (size_t)(p[0] & 0x0f);
  if (pos > len) return -1;
  if (p[0] & 0x10) {
    if (pos + 4 > len) return -1;
    size_t words = ((size_t)p[pos + 2] << 8) | p[pos + 3];
    pos += 4 + 4 * words;
    if (pos > len) return -1;
  }
  size_t pad = 0;
  if (p[0] & 0x20) {
    pad = p[len - 1];
    if (pad == 0 || pad > len - pos) return -1;
  }
  *off = pos;
  *plen = len - pos - pad;
  return 0;
}

/* Relays one datagram if its socket relays and it is an audio packet from the learned source. */
static void relay_packet(udp_t *u, int32_t id, const uint8_t *p, size_t len, uint32_t ip, uint16_t port) {
  relay_t *r = relay_find(u, id);
  if (r == NULL) return;
  /* Another source: JavaScript decides whether it takes over (symmetric RTP) and tells us. */
  if (ip != r->src_ip || port != r->src_port) return;
  size_t pos, plen;
  if (rtp_payload(p, len, &pos, &plen) < 0 || (p[1] & 0x7f) != r->match_pt) return;
  if (!r->active) {
    /* On hold nothing goes out; on resume the sequence numbers carry on without a gap. */
    r->talkspurt = 1;
    r->resume_seq = r->relaying;
    return;
  }
  if (12 + plen > SQ_BYTES) return;
  uint16_t hseq = (uint16_t)((p[2] << 8) | p[3]);
  uint32_t hts = ((uint32_t)p[4] << 24) | ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
  if (!r->relaying) {
    r->relaying = 1;
    r->seq_off = (uint16_t)(r->pk_seq - hseq);
    r->ts_off = r->pk_ts - hts;
    r->next_seq = r->pk_seq;
    r->next_ts = r->pk_ts;
  } else if (r->resume_seq) {
    r->seq_off = (uint16_t)(r->next_seq - hseq);
  }
  r->resume_seq = 0;
  uint16_t seq = (uint16_t)(hseq + r->seq_off);
  uint32_t ts = hts + r->ts_off;
  /* Into the send thread's relay ring when it runs, else a local buffer for a sendto here. */
  send_slot_t *slot = NULL;
  if (Q.on) {
    uint64_t rh = atomic_load_explicit(&Q.rhead, memory_order_relaxed);
    if (rh - atomic_load_explicit(&Q.rtail, memory_order_acquire) >= SQ_SLOTS) {
      atomic_fetch_add(&Q.dropped, 1); /* the send thread is ~80 ms behind */
      return;
    }
    slot = &Q.rslots[rh & (SQ_SLOTS - 1)];
  }
  uint8_t *o = slot != NULL ? slot->data : u->relay_buf;
  o[0] = 0x80;
  o[1] = (uint8_t)(((r->talkspurt || (p[1] & 0x80)) ? 0x80 : 0) | r->out_pt);
  o[2] = (uint8_t)(seq >> 8);
  o[3] = (uint8_t)seq;
  o[4] = (uint8_t)(ts >> 24);
  o[5] = (uint8_t)(ts >> 16);
  o[6] = (uint8_t)(ts >> 8);
  o[7] = (uint8_t)ts;
  o[8] = (uint8_t)(r->ssrc >> 24);
  o[9] = (uint8_t)(r->ssrc >> 16);
  o[10] = (uint8_t)(r->ssrc >> 8);
  o[11] = (uint8_t)r->ssrc;
  memcpy(o + 12, p + pos, plen);
  r->talkspurt = 0;
  /* The newest packet (in sequence order) sets where the stream continues after the relay. */
  if ((((uint16_t)(seq - r->next_seq)) & 0x8000) == 0) {
    r->next_seq = (uint16_t)(seq + 1);
    r->next_ts = ts + r->ts_per_packet;
  }
  atomic_fetch_add_explicit(&r->relayed, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&u->relay_total, 1, memory_order_relaxed);
  if (r->dst_port == 0) return; /* no remote yet: as RtpEndpoint.send, nothing goes out */
  if (slot != NULL) {
    slot->fd = r->dst_fd;
    slot->length = (int32_t)(12 + plen);
    slot->ip = r->dst_ip;
    slot->port = r->dst_port;
    atomic_fetch_add(&Q.rhead, 1); /* seq_cst: see send_thread; the round's end kicks */
    return;
  }
  struct sockaddr_in to = ipv4_to(r->dst_ip, r->dst_port);
  /* Without the send thread (RECGATE_UDP_SEND_THREAD=0) only: a refused send is dropped, as a full socket buffer would. */
  (void)sendto(r->dst_fd, o, 12 + plen, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
}

/* Pushes what a full ring left aside; 0 while there is still no room. */
static int rx_push_pending(udp_t *u) {
  for (; R.pend_from < R.pend_n; R.pend_from++)
    if (!rx_push(u, R.pend_id, R.pend_from, R.pend_at)) return 0;
  R.pend_n = 0;
  return 1;
}

/* Reads the sockets of one epoll_wait result. Returns 1 when all were read, 0 when the ring
 * filled (the rest waits in the kernel), -1 when a close made the list stale. *pushed counts. */
static int rx_read(udp_t *u, int n, unsigned closes, size_t *pushed) {
  for (int e = 0; e < n; e++) {
    int fd = (int)(R.events[e].data.u64 >> 32);
    int32_t id = (int32_t)(R.events[e].data.u64 & 0xffffffffu);
    if (id == 0) continue; /* the teardown's eventfd: rx_thread sees `stopping` */
    /* The lock per socket, not per round: close() and the relay calls from JavaScript wait for
     * one socket's reads at most (a round over 700 sockets takes milliseconds). */
    pthread_mutex_lock(&R.lock);
    if (atomic_load(&R.closes) != closes) {
      pthread_mutex_unlock(&R.lock);
      return -1;
    }
    for (;;) {
      for (int i = 0; i < BATCH; i++) R.msgs[i].msg_hdr.msg_namelen = sizeof R.from[i];
      int got = recvmmsg(fd, R.msgs, BATCH, MSG_DONTWAIT, NULL);
      if (got <= 0) break;
      uint64_t at = mono_ns();
      if (u->relay_count > 0)
        for (int i = 0; i < got; i++) relay_packet(u, id, R.scratch[i], R.msgs[i].msg_len, ntohl(R.from[i].sin_addr.s_addr), ntohs(R.from[i].sin_port));
      for (int i = 0; i < got; i++) {
        if (!rx_push(u, id, i, at)) {
          R.pend_id = id;
          R.pend_at = at;
          R.pend_from = i;
          R.pend_n = got;
          pthread_mutex_unlock(&R.lock);
          return 0;
        }
        (*pushed)++;
      }
      if (got < BATCH) break;
    }
    pthread_mutex_unlock(&R.lock);
  }
  return 1;
}

static void *rx_thread(void *arg) {
  udp_t *u = arg;
  pthread_setname_np(pthread_self(), "recgate-udp-rx");
  while (!atomic_load(&u->stopping)) {
    while (!rx_push_pending(u) && !atomic_load(&u->stopping)) {
      atomic_fetch_add(&R.full_waits, 1);
      uv_async_send(&R.async);
      struct timespec until;
      deadline_in(&until, RX_ROOM_WAIT_NS);
      pthread_mutex_lock(&R.mu);
      atomic_store(&R.waiting, 1);
      pthread_cond_timedwait(&R.rx_cv, &R.mu, &until);
      atomic_store(&R.waiting, 0);
      pthread_mutex_unlock(&R.mu);
    }
    size_t pushed = 0;
    int done = 0;
    int timeout = -1; /* block until a socket is readable */
    for (;;) {
      unsigned closes = atomic_load(&R.closes);
      int n = epoll_wait(S.epfd, R.events, MAX_EVENTS, timeout);
      if (n < 0) break; /* EINTR */
      if (atomic_load(&u->stopping)) return NULL;
      long delay = atomic_load_explicit(&u->rx_test_delay_ns, memory_order_relaxed);
      if (delay > 0 && n > 0) nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = delay}, NULL);
      int rc = rx_read(u, n, closes, &pushed);
      if (rc == 0) break; /* ring full */
      timeout = 0;
      if (rc == 1 && n < MAX_EVENTS) { /* every ready socket read */
        done = 1;
        break;
      }
    }
    atomic_fetch_add(&R.rounds, 1);
    if (pushed > 0) uv_async_send(&R.async);
    if (Q.on) sq_kick(u); /* the round's relayed packets, one wake-up */
    /* Gather: let about a millisecond of traffic collect before the next round. */
    if (done && pushed > 0) {
      struct timespec pause = {.tv_sec = 0, .tv_nsec = RX_ROUND_NS};
      nanosleep(&pause, NULL);
    }
  }
  return NULL;
}

static void rx_on_async(uv_async_t *handle);

static int rx_start(udp_t *u, uv_loop_t *loop) {
  R.ring = malloc(RX_RING);
  if (R.ring == NULL) return -1;
  init_msgs(R.msgs, R.iov, R.from, R.scratch);
  if (uv_async_init(loop, &R.async, rx_on_async) != 0) return -1;
  R.async.data = u;
  R.async_inited = 1;
  u->handles_open++;
  uv_unref((uv_handle_t *)&R.async);
  /* Wakes the thread out of epoll_wait at teardown; id 0 marks it (socket ids start at 1). */
  u->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
  if (u->wake_fd < 0 || epoll_ctl(S.epfd, EPOLL_CTL_ADD, u->wake_fd, &ev) < 0) return -1;
  if (start_thread(u, &u->rx_tid, rx_thread) < 0) return -1;
  R.on = 1;
  return 0;
}

/* The calling environment's instance (made by init()). */
static udp_t *instance(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "ERR_NATIVE_UDP", #call " failed");       \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value int_value(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* Hands the packets collected so far to JavaScript. Returns 0, or -1 if the callback threw.
 * From the event loop (sync 0) through make_callback, whose exceptions are uncaught ones;
 * from poll() (sync 1, JavaScript on the stack) as a plain call whose exception stays pending
 * and is thrown by poll(). */
static int flush(udp_t *u, size_t count, int arena_full, int sync) {
  if (count == 0 && !arena_full) return 0;
  /* Ages at the hand-over: JavaScript takes its clock once per batch and subtracts. */
  uint64_t now = mono_ns();
  for (size_t k = 0; k < count; k++) {
    uint64_t age_us = now > S.arrived[k] ? (now - S.arrived[k]) / 1000u : 0;
    S.meta[k * META_FIELDS + 5] = age_us > INT32_MAX ? INT32_MAX : (int32_t)age_us;
  }
  napi_env env = S.env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, S.on_batch, &cb);
  napi_get_global(env, &recv);
  napi_create_uint32(env, (uint32_t)count, &argv[0]);
  napi_get_boolean(env, arena_full, &argv[1]);
  S.batches++;
  if (sync) {
    napi_status st = napi_call_function(env, recv, cb, 2, argv, &result);
    napi_close_handle_scope(env, scope);
    return st == napi_ok ? 0 : -1;
  }
  /* make_callback, not call_function: it runs process.nextTick callbacks and microtasks after
   * the batch, as node:dgram's 'message' events do. */
  napi_status st = napi_make_callback(env, S.async, recv, cb, 2, argv, &result);
  int rc = 0;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err); /* an uncaught exception, as from any other callback */
    rc = -1;
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

/* Copies one datagram into the arena and its record into meta, handing the batch so far to
 * JavaScript first when either is full. 0, or -1 to stop (the callback threw, or JavaScript
 * gave no new arena). `before_flush` runs before a hand-over (the ring frees what was copied). */
static int stage(udp_t *u, int32_t id, const uint8_t *data, size_t len, int32_t ip, int32_t port, uint64_t at, size_t *count, int sync, void (*before_flush)(udp_t *)) {
  if (*count == S.meta_capacity || S.arena_pos + len > S.arena_len) {
    int full = S.arena_pos + len > S.arena_len;
    if (before_flush != NULL) before_flush(u);
    int rc = flush(u, *count, full, sync);
    *count = 0;
    if (rc < 0 || S.arena_pos + len > S.arena_len) return -1;
  }
  memcpy(S.arena + S.arena_pos, data, len);
  int32_t *m = S.meta + *count * META_FIELDS;
  m[0] = id;
  m[1] = (int32_t)S.arena_pos;
  m[2] = (int32_t)len;
  m[3] = ip;
  m[4] = port;
  S.arrived[*count] = at;
  S.arena_pos = (S.arena_pos + len + 7) & ~(size_t)7; /* 8-byte aligned: DataView reads stay cheap */
  (*count)++;
  return 0;
}

/* Reads every ready socket, at most `cap` datagrams, handing them to JavaScript in batches. */
static void drain(udp_t *u, size_t cap, int sync) {
  size_t count = 0, total = 0;
  unsigned closes = S.closes;
  /* All ready sockets now, not MAX_EVENTS of them: what is left for the next turn of the loop
   * would wait behind the timers (the 20 ms frame tick) and could miss its playout time. */
  int n = MAX_EVENTS;
  while (n == MAX_EVENTS && total < cap) {
    n = epoll_wait(S.epfd, S.events, MAX_EVENTS, 0);
    for (int e = 0; e < n && total < cap; e++) {
      int fd = (int)(S.events[e].data.u64 >> 32);
      int32_t id = (int32_t)(S.events[e].data.u64 & 0xffffffffu);
      for (;;) {
        /* The kernel writes back only msg_len, msg_namelen and msg_flags (set up in start()). */
        for (int i = 0; i < BATCH; i++) S.msgs[i].msg_hdr.msg_namelen = sizeof S.from[i];
        int got = recvmmsg(fd, S.msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break; /* EAGAIN: drained */
        uint64_t at = mono_ns();
        for (int i = 0; i < got; i++) {
          if (S.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) S.truncated++;
          if (stage(u, id, S.scratch[i], S.msgs[i].msg_len, (int32_t)ntohl(S.from[i].sin_addr.s_addr), ntohs(S.from[i].sin_port), at, &count, sync, NULL) < 0) goto done;
          total++;
        }
        /* A socket closed by JavaScript during a flush may have had its descriptor number reused:
         * the events still pending are stale, and epoll (level-triggered) reports the live ones
         * again on the next turn of the loop. */
        if (S.closes != closes) goto done;
        if (got < BATCH) break;
      }
    }
  }
done:
  S.packets += (double)total;
  if (count > 0) flush(u, count, 0, sync);
}

/* With the receive thread: hands over what its ring holds, at most `cap` datagrams, as drain(u)
 * does from the sockets (same arena, meta and flush). */
/* The ring's records staged so far are free for the thread before JavaScript runs. */
static void ring_free_staged(udp_t *u) {
  atomic_store_explicit(&R.tail, u->ring_read_pos, memory_order_release);
}

static void drain_ring(udp_t *u, size_t cap, int sync) {
  size_t count = 0, total = 0;
  uint64_t t = atomic_load_explicit(&R.tail, memory_order_relaxed);
  uint64_t h = atomic_load_explicit(&R.head, memory_order_acquire);
  while (t != h && total < cap) {
    size_t pos = (size_t)(t & (RX_RING - 1));
    const int32_t *r = (const int32_t *)(R.ring + pos);
    if (r[0] == RX_WRAP) {
      t += RX_RING - pos;
      continue;
    }
    size_t len = (size_t)r[1];
    u->ring_read_pos = t;
    if (stage(u, r[0], R.ring + pos + RX_HDR, len, r[2], r[3], *(const uint64_t *)(r + 4), &count, sync, ring_free_staged) < 0) goto done;
    t += RX_HDR + ((len + 7) & ~(size_t)7);
    total++;
    if (count == 1) h = atomic_load_explicit(&R.head, memory_order_acquire); /* after a hand-over: what arrived meanwhile */
  }
done:
  atomic_store_explicit(&R.tail, t, memory_order_release);
  if (atomic_load(&R.waiting)) {
    pthread_mutex_lock(&R.mu);
    pthread_cond_signal(&R.rx_cv);
    pthread_mutex_unlock(&R.mu);
  }
  S.packets += (double)total;
  if (count > 0) flush(u, count, 0, sync);
  /* More than one wake-up's worth: the rest on the next turn of the loop, after the timers. */
  if (!sync && atomic_load_explicit(&R.head, memory_order_acquire) != atomic_load_explicit(&R.tail, memory_order_relaxed)) uv_async_send(&R.async);
}

static void rx_on_async(uv_async_t *handle) {
  udp_t *u = handle->data;
  S.wakeups++;
  S.delivering = 1;
  drain_ring(u, MAX_PER_WAKE, 0);
  S.delivering = 0;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  udp_t *u = handle->data;
  (void)events;
  if (status < 0) return;
  S.wakeups++;
  S.delivering = 1;
  drain(u, MAX_PER_WAKE, 0);
  S.delivering = 0;
}

/* poll(): hands over now, synchronously, what has arrived. The media clock calls it before it
 * mixes, so a frame is never mixed while its packet still waits: after a stall the loop runs
 * timers before it polls, and one wake-up hands over at most MAX_PER_WAKE. Without the receive
 * thread it reads the sockets itself; with it, it takes what the ring holds (see above). */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  (void)info;
  if (!S.started || S.delivering) return NULL;
  S.polls++;
  S.delivering = 1;
  if (R.on) {
    drain_ring(u, POLL_CAP, 1);
  } else {
    drain(u, POLL_CAP, 1);
  }
  S.delivering = 0;
  return NULL;
}

static int set_arena(udp_t *u, napi_env env, napi_value v) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) return -1;
  if (S.arena_ref != NULL) napi_delete_reference(env, S.arena_ref);
  napi_create_reference(env, v, 1, &S.arena_ref);
  S.arena = data;
  S.arena_len = length;
  S.arena_pos = 0;
  return 0;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (S.started) {
    napi_throw_error(env, "ERR_INVALID_STATE", "native UDP already started");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (argc < 3 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array ||
      length < META_FIELDS) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "start(meta: Int32Array, arena: Uint8Array, onBatch: function)");
    return NULL;
  }
  S.env = env;
  S.meta = data;
  S.meta_capacity = length / META_FIELDS;
  S.arrived = calloc(S.meta_capacity, sizeof *S.arrived);
  if (S.arrived == NULL) {
    napi_throw_error(env, "ERR_IO", "out of memory");
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[0], 1, &S.meta_ref));
  if (set_arena(u, env, argv[1]) < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "arena must be a Uint8Array");
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[2], 1, &S.on_batch));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "recgate.udp", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &S.async));
  init_msgs(S.msgs, S.iov, S.from, S.scratch);
  S.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (S.epfd < 0) {
    napi_throw_error(env, "ERR_IO", strerror(errno));
    return NULL;
  }
  bool send_thread_on = false;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &send_thread_on);
  if (send_thread_on && sq_start(u) < 0) {
    napi_throw_error(env, "ERR_IO", "cannot start the UDP send thread");
    return NULL;
  }
  bool recv_thread_on = false;
  if (argc >= 5) napi_get_value_bool(env, argv[4], &recv_thread_on);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (recv_thread_on) {
    if (rx_start(u, loop) < 0) {
      napi_throw_error(env, "ERR_IO", "cannot start the UDP receive thread");
      return NULL;
    }
  } else {
    uv_poll_init(loop, &S.poll, S.epfd);
    S.poll.data = u;
    S.poll_inited = 1;
    u->handles_open++;
    uv_poll_start(&S.poll, UV_READABLE, on_readable);
    /* Referenced only while a socket is open, as a node:dgram socket keeps the process alive. */
    uv_unref((uv_handle_t *)&S.poll);
  }
  S.started = 1;
  return NULL;
}

static napi_value js_set_arena(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || set_arena(u, env, argv[0]) < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "setArena(arena: Uint8Array)");
    return NULL;
  }
  return NULL;
}

static int get_ints(napi_env env, napi_callback_info info, size_t want, int64_t *out, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -1;
  for (size_t i = 0; i < want; i++) {
    if (out == NULL) continue;
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number) {
      out[i] = INT64_MIN;
      continue;
    }
    napi_get_value_int64(env, argv[i], &out[i]);
  }
  return 0;
}

/* The descriptors open() returned and close() has not taken: closed at teardown. A close
 * scans them (a few thousand ints, twice per call), nothing per packet does. */
static int track_fd(udp_t *u, int fd) {
  if (u->nfds == u->fds_cap) {
    size_t cap = u->fds_cap == 0 ? 64 : u->fds_cap * 2;
    int *fds = realloc(u->fds, cap * sizeof *fds);
    if (fds == NULL) return -1;
    u->fds = fds;
    u->fds_cap = cap;
  }
  u->fds[u->nfds++] = fd;
  return 0;
}

static void untrack_fd(udp_t *u, int fd) {
  for (size_t i = u->nfds; i-- > 0;)
    if (u->fds[i] == fd) {
      u->fds[i] = u->fds[--u->nfds];
      return;
    }
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[4];
  napi_value argv[4];
  if (!S.started || get_ints(env, info, 4, a, argv) < 0 || a[0] == INT64_MIN || a[1] < 0 || a[1] > 65535 || a[3] < 0 ||
      a[3] > INT32_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "open(ip4, port, rcvbuf, id) after start()");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  if (a[2] > 0) {
    int size = (int)a[2];
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size); /* capped by net.core.rmem_max */
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl((uint32_t)a[0]);
  sa.sin_port = htons((uint16_t)a[1]);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return int_value(env, -err);
  }
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = ((uint64_t)(uint32_t)fd << 32) | (uint32_t)a[3];
  if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int err = errno;
    close(fd);
    return int_value(env, -err);
  }
  if (track_fd(u, fd) < 0) {
    epoll_ctl(S.epfd, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    return int_value(env, -ENOMEM);
  }
  if (S.open++ == 0) uv_ref(R.on ? (uv_handle_t *)&R.async : (uv_handle_t *)&S.poll);
  return int_value(env, fd);
}

/* The one descriptor argument of close() and localPort(), or -1 with a TypeError thrown. */
static int fd_argument(napi_env env, napi_callback_info info, const char *usage) {
  int64_t a[1];
  napi_value argv[1];
  if (get_ints(env, info, 1, a, argv) < 0 || a[0] < 0 || a[0] > INT32_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", usage);
    return -1;
  }
  return (int)a[0];
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[2];
  napi_value argv[2];
  if (get_ints(env, info, 2, a, argv) < 0 || a[0] < 0 || a[0] > INT32_MAX || a[1] <= 0 || a[1] > INT32_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "close(fd, id)");
    return NULL;
  }
  int fd = (int)a[0];
  int32_t id = (int32_t)a[1];
  S.closes++;
  /* Not while the receive thread reads the sockets of one epoll_wait: it may hold this fd. */
  if (R.on) {
    pthread_mutex_lock(&R.lock);
    atomic_fetch_add(&R.closes, 1);
  }
  epoll_ctl(S.epfd, EPOLL_CTL_DEL, fd, NULL);
  untrack_fd(u, fd);
  if (R.on && u->relay_count > 0) relay_forget_socket(u, id);
  if (S.open > 0 && --S.open == 0) uv_unref(R.on ? (uv_handle_t *)&R.async : (uv_handle_t *)&S.poll);
  if (Q.on) {
    /* The socket goes now (dup2 is atomic); the placeholder's close waits behind the socket's
     * packets, for room in the queue if need be (the send thread drains it). */
    dup2(Q.devnull, fd);
    send_slot_t *s;
    while ((s = sq_claim(u)) == NULL) sched_yield();
    s->fd = fd;
    s->length = SQ_CLOSE;
    sq_publish(u);
    sq_kick(u);
  } else {
    close(fd);
  }
  if (R.on) pthread_mutex_unlock(&R.lock);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, offset, length, port;
  uint32_t ip;
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t boff;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &boff) != napi_ok || type != napi_uint8_array ||
      napi_get_value_int32(env, argv[2], &offset) != napi_ok || napi_get_value_int32(env, argv[3], &length) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &ip) != napi_ok || napi_get_value_int32(env, argv[5], &port) != napi_ok || offset < 0 ||
      length < 0 || (size_t)offset + (size_t)length > len || port < 0 || port > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "send(fd, bytes, offset, length, ip4, port)");
    return NULL;
  }
  if (Q.on) {
    if (length > SQ_BYTES) return int_value(env, -EMSGSIZE);
    send_slot_t *s = sq_claim(u);
    if (s == NULL) {
      /* The send thread is ~80 ms behind: the machine is overloaded; drop, as a full socket buffer would. */
      atomic_fetch_add(&Q.dropped, 1);
      return int_value(env, -ENOBUFS);
    }
    s->fd = fd;
    s->length = length;
    s->ip = ip;
    s->port = (uint16_t)port;
    memcpy(s->data, (uint8_t *)data + offset, (size_t)length);
    sq_publish(u);
    return int_value(env, 0);
  }
  struct sockaddr_in to = ipv4_to(ip, (uint16_t)port);
  ssize_t n = sendto(fd, (uint8_t *)data + offset, (size_t)length, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
  return int_value(env, n < 0 ? -errno : 0);
}

static napi_value js_kick(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  (void)env;
  (void)info;
  if (Q.on) sq_kick(u);
  return NULL;
}

/*
 * relayStart(srcId, srcFd, dstId, dstFd, matchPt, outPt, ssrc, tsPerPacket, state: Int32Array)
 *   state (in): active, relaying, talkspurt, resumeSeq, seqOffset, tsOffset, nextSeq, nextTs,
 *   packetizerSeq, packetizerTs, srcIp, srcPort, dstIp, dstPort (ips as int32)
 *   -> 0, or -1 (no receive thread, or the table is full: JavaScript relays itself)
 * relayStop(srcId, state: Int32Array) -> relayed count; state (out) as above, for forward()
 * relaySetActive(srcId, active, markTalkspurt)
 * relayRemote(id, ip, port): the socket's remote changed (a source's filter, a destination's address)
 * relayCount(srcId) -> packets relayed so far (for counters while relaying)
 */
enum { RS_ACTIVE, RS_RELAYING, RS_TALKSPURT, RS_RESUME, RS_SEQ_OFF, RS_TS_OFF, RS_NEXT_SEQ, RS_NEXT_TS, RS_PK_SEQ, RS_PK_TS, RS_SRC_IP, RS_SRC_PORT, RS_DST_IP, RS_DST_PORT, RS_FIELDS };

static int32_t *state_argument(napi_env env, napi_value v) {
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array || length < RS_FIELDS) return NULL;
  return data;
}

/* `n` integer arguments whose first is a socket id (1..INT32_MAX); -1 with a TypeError thrown. */
static int id_args(napi_env env, napi_callback_info info, size_t n, int64_t *a, napi_value *argv, const char *usage) {
  if (get_ints(env, info, n, a, argv) < 0 || a[0] <= 0 || a[0] > INT32_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", usage);
    return -1;
  }
  return 0;
}

static napi_value js_relay_start(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[9];
  napi_value argv[9];
  int32_t *st;
  if (get_ints(env, info, 9, a, argv) < 0 || (st = state_argument(env, argv[8])) == NULL || a[0] <= 0 || a[2] <= 0 || a[1] < 0 || a[3] < 0 ||
      a[4] < 0 || a[4] > 127 || a[5] < 0 || a[5] > 127 || a[6] < 0 || a[6] > UINT32_MAX || a[7] <= 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "relayStart(srcId, srcFd, dstId, dstFd, matchPt, outPt, ssrc, tsPerPacket, state)");
    return NULL;
  }
  if (!R.on) return int_value(env, -1);
  pthread_mutex_lock(&R.lock);
  relay_t *r = relay_find(u, (int32_t)a[0]);
  if (r == NULL) r = relay_insert(u, (int32_t)a[0]);
  if (r != NULL) {
    r->src_fd = (int)a[1];
    relay_set_dst(u, r, (int32_t)a[2]);
    r->dst_fd = (int)a[3];
    r->match_pt = (uint8_t)a[4];
    r->out_pt = (uint8_t)a[5];
    r->ssrc = (uint32_t)a[6];
    r->ts_per_packet = (uint32_t)a[7];
    r->active = st[RS_ACTIVE];
    r->relaying = st[RS_RELAYING];
    r->talkspurt = st[RS_TALKSPURT];
    r->resume_seq = st[RS_RESUME];
    r->seq_off = (uint16_t)st[RS_SEQ_OFF];
    r->ts_off = (uint32_t)st[RS_TS_OFF];
    r->next_seq = (uint16_t)st[RS_NEXT_SEQ];
    r->next_ts = (uint32_t)st[RS_NEXT_TS];
    r->pk_seq = (uint16_t)st[RS_PK_SEQ];
    r->pk_ts = (uint32_t)st[RS_PK_TS];
    r->src_ip = (uint32_t)st[RS_SRC_IP];
    r->src_port = (uint16_t)st[RS_SRC_PORT];
    r->dst_ip = (uint32_t)st[RS_DST_IP];
    r->dst_port = (uint16_t)st[RS_DST_PORT];
  }
  pthread_mutex_unlock(&R.lock);
  return int_value(env, r == NULL ? -1 : 0);
}

static napi_value js_relay_stop(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[2];
  napi_value argv[2];
  int32_t *st;
  if (id_args(env, info, 2, a, argv, "relayStop(srcId, state)") < 0) return NULL;
  if ((st = state_argument(env, argv[1])) == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "relayStop(srcId, state)");
    return NULL;
  }
  double relayed = -1;
  pthread_mutex_lock(&R.lock);
  relay_t *r = relay_find(u, (int32_t)a[0]);
  if (r != NULL) {
    st[RS_ACTIVE] = r->active;
    st[RS_RELAYING] = r->relaying;
    st[RS_TALKSPURT] = r->talkspurt;
    st[RS_RESUME] = r->resume_seq;
    st[RS_SEQ_OFF] = r->seq_off;
    st[RS_TS_OFF] = (int32_t)r->ts_off;
    st[RS_NEXT_SEQ] = r->next_seq;
    st[RS_NEXT_TS] = (int32_t)r->next_ts;
    relayed = (double)atomic_load(&r->relayed);
    relay_delete(u, r);
  }
  pthread_mutex_unlock(&R.lock);
  napi_value out;
  napi_create_double(env, relayed, &out);
  return out;
}

static napi_value js_relay_set_active(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[3];
  napi_value argv[3];
  if (id_args(env, info, 3, a, argv, "relaySetActive(srcId, active, markTalkspurt)") < 0) return NULL;
  pthread_mutex_lock(&R.lock);
  relay_t *r = relay_find(u, (int32_t)a[0]);
  if (r != NULL) {
    r->active = a[1] != 0;
    if (a[2] != 0) r->talkspurt = 1;
  }
  pthread_mutex_unlock(&R.lock);
  return NULL;
}

static napi_value js_relay_remote(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[3];
  napi_value argv[3];
  if (id_args(env, info, 3, a, argv, "relayRemote(id, ip4, port)") < 0) return NULL;
  if (a[1] < 0 || a[1] > UINT32_MAX || a[2] < 0 || a[2] > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "relayRemote(id, ip4, port)");
    return NULL;
  }
  if (u->relay_count == 0) return NULL;
  const int32_t id = (int32_t)a[0];
  pthread_mutex_lock(&R.lock);
  relay_t *src = relay_find(u, id);
  if (src != NULL) {
    src->src_ip = (uint32_t)a[1];
    src->src_port = (uint16_t)a[2];
  }
  relay_t *r;
  for (unsigned pos = index_home(id); (r = index_next(u, T->by_dst, id, &pos)) != NULL;) {
    r->dst_ip = (uint32_t)a[1];
    r->dst_port = (uint16_t)a[2];
  }
  pthread_mutex_unlock(&R.lock);
  return NULL;
}

static napi_value js_relay_count(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[1];
  napi_value argv[1];
  if (id_args(env, info, 1, a, argv, "relayCount(srcId)") < 0) return NULL;
  /* No lock: only this (the JavaScript) thread changes the table, and the count is atomic. A
   * /metrics scrape reads every leg's count, and waiting for the receive thread each time
   * stalled the loop. */
  double n = 0;
  relay_t *r = relay_find(u, (int32_t)a[0]);
  if (r != NULL) n = (double)atomic_load_explicit(&r->relayed, memory_order_relaxed);
  napi_value out;
  napi_create_double(env, n, &out);
  return out;
}

/* rtpPayload(bytes, offset, length) -> [payloadOffset, payloadLength] (from offset) or null:
 * rtp_payload() for the fuzz target; needs no start(). */
static napi_value js_rtp_payload(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t boff;
  int32_t offset, length;
  if (argc < 3 || napi_get_typedarray_info(env, argv[0], &type, &len, &data, &ab, &boff) != napi_ok || type != napi_uint8_array ||
      napi_get_value_int32(env, argv[1], &offset) != napi_ok || napi_get_value_int32(env, argv[2], &length) != napi_ok || offset < 0 || length < 0 ||
      (size_t)offset + (size_t)length > len) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "rtpPayload(bytes, offset, length)");
    return NULL;
  }
  size_t pos, plen;
  napi_value out;
  if (rtp_payload((const uint8_t *)data + offset, (size_t)length, &pos, &plen) < 0) {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, int_value(env, (int32_t)pos));
  napi_set_element(env, out, 1, int_value(env, (int32_t)plen));
  return out;
}

static napi_value js_test_recv_delay(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[1];
  napi_value argv[1];
  if (get_ints(env, info, 1, a, argv) < 0 || a[0] < 0 || a[0] > 100000) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "testRecvDelay(microseconds 0..100000)");
    return NULL;
  }
  atomic_store(&u->rx_test_delay_ns, (long)a[0] * 1000L);
  return NULL;
}

/* relayProbe(id) -> [index slots a lookup of socket `id` reads, 1 if it relays else 0] (tests:
 * chains stay short, closes find their relays). */
static napi_value js_relay_probe(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  int64_t a[1];
  napi_value argv[1];
  if (id_args(env, info, 1, a, argv, "relayProbe(id)") < 0) return NULL;
  int32_t n = 0, found = 0;
  pthread_mutex_lock(&R.lock);
  if (u->relay_count > 0)
    for (unsigned i = index_home((int32_t)a[0]); T->by_src[i] != 0 && !found; i = (i + 1) & INDEX_MASK) {
      n++;
      found = T->relays[T->by_src[i] - 1].src_id == (int32_t)a[0];
    }
  pthread_mutex_unlock(&R.lock);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, int_value(env, n));
  napi_set_element(env, out, 1, int_value(env, found));
  return out;
}

static napi_value js_local_port(napi_env env, napi_callback_info info) {
  int fd = fd_argument(env, info, "localPort(fd)");
  if (fd < 0) return NULL;
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) return int_value(env, -errno);
  return int_value(env, ntohs(sa.sin_port));
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  udp_t *u = instance(env);
  (void)info;
  napi_value arr, v;
  napi_create_array_with_length(env, 16, &arr);
  double s[16] = {S.wakeups, S.batches, S.packets, S.truncated, (double)Q.on, (double)atomic_load(&Q.sent), (double)atomic_load(&Q.errors),
                  (double)atomic_load(&Q.dropped), (double)atomic_load(&Q.kicks), (double)atomic_load(&Q.missed), S.polls, (double)R.on,
                  (double)atomic_load(&R.rounds), (double)atomic_load(&R.full_waits), (double)atomic_load(&R.high_water), (double)atomic_load(&u->relay_total)};
  for (uint32_t i = 0; i < 16; i++) {
    napi_create_double(env, s[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

/*
 * Teardown of an instance, when its environment goes (a worker thread ends, or the process
 * exits normally; process.exit() skips it and the threads die with the process). The threads
 * are stopped and joined first: the receive thread ends before the send thread, which sends
 * what was queued and closes the sockets queued to close. Then the sockets JavaScript left
 * open, the rings and the table go, and last the uv handles, closed asynchronously: the
 * environment waits for napi_remove_async_cleanup_hook, and the instance is freed then.
 */
static void on_handle_closed(uv_handle_t *handle) {
  udp_t *u = handle->data;
  if (--u->handles_open > 0) return;
  napi_remove_async_cleanup_hook(u->cleanup);
  free(u);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  udp_t *u = arg;
  u->cleanup = handle;
  atomic_store(&u->stopping, 1);
  if (R.on) {
    uint64_t one = 1;
    if (write(u->wake_fd, &one, sizeof one) < 0) { /* cannot fail short of a full counter */ }
    pthread_mutex_lock(&R.mu);
    pthread_cond_signal(&R.rx_cv);
    pthread_mutex_unlock(&R.mu);
    pthread_join(u->rx_tid, NULL);
  }
  if (Q.on) {
    pthread_mutex_lock(&Q.lock);
    pthread_cond_signal(&Q.wake);
    pthread_mutex_unlock(&Q.lock);
    pthread_join(u->send_tid, NULL);
  }
  for (size_t i = 0; i < u->nfds; i++) close(u->fds[i]);
  if (S.epfd >= 0) close(S.epfd);
  if (u->wake_fd >= 0) close(u->wake_fd);
  if (Q.devnull >= 0) close(Q.devnull);
  free(u->fds);
  free(Q.slots);
  free(Q.rslots);
  free(R.ring);
  free(S.arrived);
  free(T);
  pthread_mutex_destroy(&Q.lock);
  pthread_cond_destroy(&Q.wake);
  pthread_mutex_destroy(&R.lock);
  pthread_mutex_destroy(&R.mu);
  pthread_cond_destroy(&R.rx_cv);
  if (u->handles_open == 0) {
    napi_remove_async_cleanup_hook(handle);
    free(u);
    return;
  }
  if (R.async_inited) uv_close((uv_handle_t *)&R.async, on_handle_closed);
  if (S.poll_inited) uv_close((uv_handle_t *)&S.poll, on_handle_closed);
}

static napi_value init(napi_env env, napi_value exports) {
  udp_t *u = calloc(1, sizeof *u);
  if (u == NULL) {
    napi_throw_error(env, "ERR_IO", "out of memory");
    return NULL;
  }
  S.epfd = -1;
  Q.devnull = -1;
  u->wake_fd = -1;
  pthread_mutex_init(&Q.lock, NULL);
  pthread_cond_init(&Q.wake, NULL);
  pthread_mutex_init(&R.lock, NULL);
  pthread_mutex_init(&R.mu, NULL);
  pthread_cond_init(&R.rx_cv, NULL);
  if (napi_set_instance_data(env, u, NULL, NULL) != napi_ok || napi_add_async_cleanup_hook(env, on_env_cleanup, u, NULL) != napi_ok) {
    free(u);
    napi_throw_error(env, "ERR_NATIVE_UDP", "cannot set up the addon's instance");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"setArena", NULL, js_set_arena, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"kick", NULL, js_kick, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"testRecvDelay", NULL, js_test_recv_delay, NULL, NULL, NULL, napi_default, NULL},
      {"relayStart", NULL, js_relay_start, NULL, NULL, NULL, napi_default, NULL},
      {"relayStop", NULL, js_relay_stop, NULL, NULL, NULL, napi_default, NULL},
      {"relaySetActive", NULL, js_relay_set_active, NULL, NULL, NULL, napi_default, NULL},
      {"relayRemote", NULL, js_relay_remote, NULL, NULL, NULL, napi_default, NULL},
      {"relayCount", NULL, js_relay_count, NULL, NULL, NULL, napi_default, NULL},
      {"relayProbe", NULL, js_relay_probe, NULL, NULL, NULL, napi_default, NULL},
      {"rtpPayload", NULL, js_rtp_payload, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
