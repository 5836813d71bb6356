/**
 * GET /metrics: Prometheus text (prom-client). Gauges are computed when scraped, from the
 * gateway's counters: nothing is updated on the media path for them.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';
import type { Gateway } from '../calls/index.js';
import { threadTimes } from '../common/index.js';
import type { ThreadTimes } from '../common/index.js';
import { NATIVE_THREAD_NAMES } from '../rtp/index.js';
import { batchWriteStats } from '../recorder/index.js';

/**
 * CPU seconds (user + system) of the main thread (the event loop: SIP, API, and every call's
 * media) and of the native UDP path's receive and send threads (Linux; nothing elsewhere).
 * The main thread's rate is the gateway's capacity gauge: near 1 s per second it is saturated,
 * whatever the other cores do. Threads of one name are summed (a worker thread that loads the
 * addon has its own pair).
 */
function threadCpuSeconds(): Map<string, number> {
  const label = (t: ThreadTimes): string | undefined =>
    t.tid === process.pid ? 'main' : t.name === NATIVE_THREAD_NAMES.recv ? 'udp_recv' : t.name === NATIVE_THREAD_NAMES.send ? 'udp_send' : undefined;
  const out = new Map<string, number>();
  for (const t of threadTimes()) {
    const name = label(t);
    if (name !== undefined) out.set(name, (out.get(name) ?? 0) + t.runUs / 1e6);
  }
  return out;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });

  constructor(gateway: Gateway) {
    this.#loop.enable();
    const gauge = (name: string, help: string, collect: () => number): void => {
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(collect());
        },
      });
    };
    const legs = () => [...gateway.calls.values()].flatMap((c) => c.legs);
    const rtp = (k: keyof ReturnType<Gateway['rtpTotals']>) => gateway.rtpTotals()[k];
    gauge('recgate_active_calls', 'Calls up or ringing now', () => gateway.calls.size);
    gauge('recgate_active_recordings', 'Recordings running (recording or paused) now', () => gateway.recordings.activeCount);
    gauge('recgate_rtp_packets_received_total', 'RTP packets received by the gateway since start', () => rtp('received'));
    gauge('recgate_rtp_packets_lost_total', 'RTP packets never received (concealed), since start', () => rtp('lost'));
    gauge('recgate_rtp_packets_concealed_total', 'RTP packets concealed (repeat or silence), since start', () => rtp('concealed'));
    gauge('recgate_rtp_packets_late_total', 'RTP packets that arrived after their playout time (dropped; overload or a bad network), since start', () => rtp('late'));
    gauge('recgate_rtp_packets_relayed_total', 'RTP packets relayed from one party of a bridged call to the other as they arrived (same codec), rather than mixed and re-encoded, since start', () => rtp('relayed'));
    gauge('recgate_mixer_drift_inserted_samples_total', 'Samples the drift controller inserted to keep a slow sender in step with the mixer clock (0 while senders keep time), since start', () => rtp('driftInserted'));
    gauge('recgate_mixer_drift_dropped_samples_total', 'Samples the drift controller dropped to keep a fast sender in step with the mixer clock (0 while senders keep time), since start', () => rtp('driftDropped'));
    gauge('recgate_recording_failures_total', 'Recordings that failed (disk, queue, I/O), since start', () => gateway.recordings.failures);
    gauge('recgate_webhook_queue_depth', 'Webhook deliveries waiting', () => gateway.store.pendingDeliveries());
    const checkpoints = () => gateway.store.checkpointStats?.() ?? null;
    gauge('recgate_store_checkpoint_worker', "The store's journal (SQLite WAL) is copied into its file by a worker thread: 1, or inside the event loop's commits: 0", () => (checkpoints()?.running === true ? 1 : 0));
    gauge('recgate_store_wal_frames', "Pages in the store's journal (SQLite WAL) at the worker's last checkpoint round (stays small while it keeps up)", () => checkpoints()?.walFrames ?? 0);
    gauge('recgate_store_checkpoint_rounds_total', 'Checkpoint rounds of the worker since start', () => checkpoints()?.rounds ?? 0);
    gauge('recgate_file_writes_batched', "Recordings' file writes go to the threadpool as one job per event-loop turn (native/fileio.c): 1, or an fs.write each: 0", () => (batchWriteStats().path.startsWith('batched') ? 1 : 0));
    gauge('recgate_file_writes_total', "Recordings' file writes submitted in batches since start", () => batchWriteStats().writes);
    gauge('recgate_file_write_jobs_total', 'Threadpool jobs those writes took since start', () => batchWriteStats().jobs);
    new client.Gauge({
      name: 'recgate_thread_cpu_seconds_total',
      help: 'CPU time of the main thread (thread="main": the event loop, which carries SIP, the API and every call\'s media; near 1 s per second it is saturated) and of the native UDP receive and send threads (udp_recv, udp_send), since start (Linux)',
      labelNames: ['thread'],
      registers: [this.registry],
      collect() {
        for (const [thread, seconds] of threadCpuSeconds()) this.set({ thread }, seconds);
      },
    });
    const memory = (k: keyof NodeJS.MemoryUsage) => () => process.memoryUsage()[k];
    gauge('recgate_memory_rss_bytes', 'Resident memory of the process', memory('rss'));
    gauge('recgate_memory_heap_used_bytes', 'JavaScript heap in use (live objects and garbage not yet collected)', memory('heapUsed'));
    gauge('recgate_memory_heap_total_bytes', 'JavaScript heap reserved', memory('heapTotal'));
    gauge('recgate_memory_array_buffers_bytes', 'Memory of ArrayBuffers (audio rings, packet arenas, file chunks)', memory('arrayBuffers'));
    gauge('recgate_memory_external_bytes', 'Memory outside the JavaScript heap held by JavaScript objects (ArrayBuffers included)', memory('external'));
    // Before p99, which resets the histogram for the next scrape.
    gauge('recgate_event_loop_delay_p50_seconds', 'Event-loop delay, median since the last scrape (samples every 10 ms include that interval: an idle loop reads ~0.010)', () => {
      const v = this.#loop.percentile(50) / 1e9;
      return Number.isFinite(v) ? v : 0;
    });
    gauge('recgate_event_loop_delay_p99_seconds', 'Event-loop delay, 99th percentile since the last scrape', () => {
      const v = this.#loop.percentile(99) / 1e9;
      this.#loop.reset();
      return Number.isFinite(v) ? v : 0;
    });
    gauge('recgate_udp_native', 'RTP sockets served by the native batched path (epoll + recvmmsg): 1, or node:dgram: 0', () => (gateway.udpPath().startsWith('native') ? 1 : 0));
    gauge('recgate_udp_wakeups_total', 'Wake-ups of the native UDP path since start (packets / wake-ups = batching)', () => gateway.udpStats().wakeups);
    gauge('recgate_udp_native_packets_total', 'Datagrams received through the native UDP path since start', () => gateway.udpStats().packets);
    gauge('recgate_udp_recv_thread', 'RTP sockets read by the native receive thread: 1, or on the event loop: 0', () => (gateway.udpStats().recvThread ? 1 : 0));
    gauge('recgate_udp_recv_rounds_total', 'Rounds of the UDP receive thread over the ready sockets since start (packets / rounds = batching)', () => gateway.udpStats().recvRounds);
    gauge('recgate_udp_recv_ring_full_total', 'Times the UDP receive thread found its 8 MiB ring full (the media thread more than ~0.4 s behind at 1,000 calls) and left packets in the kernel, since start', () => gateway.udpStats().recvRingFullWaits);
    gauge('recgate_udp_relayed_total', 'RTP packets the UDP receive thread relayed leg to leg itself, without JavaScript (part of recgate_rtp_packets_relayed_total), since start', () => gateway.udpStats().relayedOnRecvThread);
    gauge('recgate_udp_send_thread', 'RTP sends made by the native send thread: 1, or on the media thread: 0', () => (gateway.udpStats().sendThread ? 1 : 0));
    gauge('recgate_udp_send_errors_total', 'RTP sends the kernel refused on the UDP send thread since start (per-endpoint counters hold the others)', () => gateway.udpStats().threadSendErrors);
    gauge('recgate_udp_send_thread_wakeups_total', 'Times the UDP send thread was woken, once per batch of sends (a mixer tick, a receive batch), since start', () => gateway.udpStats().sendThreadKicks);
    gauge('recgate_udp_send_queue_drops_total', 'RTP packets dropped because the UDP send thread was 8192 packets behind (overload), since start', () => gateway.udpStats().sendQueueDrops);
    gauge('recgate_rtp_legs', 'Media legs open now', () => legs().length);
    gauge('recgate_calls_total', 'Calls handled since start', () => gateway.callsTotal);
    gauge(
      'recgate_overloaded',
      'New calls refused now because the media thread cannot keep its clock or is about to (event-loop median delay at RECGATE_OVERLOAD_DELAY_MS, its utilization at RECGATE_OVERLOAD_UTILIZATION, or the encoder workers RECGATE_OVERLOAD_ENCODER_LAG_MS behind, two seconds in a row): 1, else 0',
      () => (gateway.admission.overloaded ? 1 : 0),
    );
    gauge('recgate_encoder_lag_seconds', 'How far behind the MP3/Opus encoder workers are: the age of the oldest batch of audio they have not answered (0 when they keep up)', () => gateway.recordings.encoderLagMs() / 1000);
    gauge('recgate_event_loop_utilization', "The event loop's utilization over the overload guard's last period (0-1: the share it spent outside its wait for I/O); 0 with the guard off", () => gateway.admission.stats().utilization);
    gauge('recgate_calls_refused_overload_total', 'New calls refused with 503 for overload since start', () => gateway.rejected.overload ?? 0);
    gauge('recgate_calls_refused_max_calls_total', 'New calls refused with 503 at RECGATE_MAX_CALLS since start', () => gateway.rejected.max_calls ?? 0);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.#loop.disable();
  }
}
