/**
 * Worker thread of an EncoderPool: runs real encoders (createEncoder) for the main thread's
 * OffloadEncoders and sends their bytes back, in order, once per batch of PCM.
 *
 * Messages in:  { op: 'open', id, options } | { op: 'pcm', id, pcm } | { op: 'close', id }
 * Messages out: { id, appends: Uint8Array | null, patches: [position, bytes][], samples, bytes, closed?, error? }
 */
import { parentPort } from 'node:worker_threads';
import type { ByteSink, Encoder, EncoderOptions } from './Encoder.js';
import { createEncoder } from './createEncoder.js';

export type ToWorker = { op: 'open'; id: number; options: EncoderOptions } | { op: 'pcm'; id: number; pcm: Int16Array } | { op: 'close'; id: number };

export interface FromWorker {
  id: number;
  /** Bytes appended since the last message, concatenated. */
  appends: Uint8Array | null;
  /** Header rewrites since the last message, after the appends. */
  patches: [number, Uint8Array][];
  /** The encoder's samplesWritten and bytesWritten after this batch. */
  samples: number;
  bytes: number;
  closed?: true;
  /** The encoder threw: message of the error (the encoder is gone). */
  error?: string;
}

/** Collects what an encoder hands its sink between two messages. */
class CollectSink implements ByteSink {
  chunks: Uint8Array[] = [];
  length = 0;
  patches: [number, Uint8Array][] = [];
  append(bytes: Uint8Array, offset: number, length: number): void {
    this.chunks.push(bytes.slice(offset, offset + length));
    this.length += length;
  }
  patch(position: number, bytes: Uint8Array): void {
    this.patches.push([position, bytes.slice()]);
  }
  take(): { appends: Uint8Array | null; patches: [number, Uint8Array][] } {
    let appends: Uint8Array | null = null;
    if (this.length > 0) {
      appends = new Uint8Array(this.length);
      let o = 0;
      for (const c of this.chunks) {
        appends.set(c, o);
        o += c.length;
      }
    }
    const patches = this.patches;
    this.chunks = [];
    this.length = 0;
    this.patches = [];
    return { appends, patches };
  }
}

const encoders = new Map<number, { encoder: Encoder; sink: CollectSink }>();
const port = parentPort!;

function reply(id: number, e: { encoder: Encoder; sink: CollectSink }, extra: Partial<FromWorker> = {}): void {
  const { appends, patches } = e.sink.take();
  const msg: FromWorker = { id, appends, patches, samples: e.encoder.samplesWritten, bytes: e.encoder.bytesWritten, ...extra };
  port.postMessage(msg, appends !== null ? [appends.buffer as ArrayBuffer] : []);
}

port.on('message', (m: ToWorker) => {
  const e = encoders.get(m.id);
  try {
    if (m.op === 'open') {
      const sink = new CollectSink();
      const encoder = createEncoder(m.options, sink);
      encoders.set(m.id, { encoder, sink });
      reply(m.id, { encoder, sink });
    } else if (e === undefined) {
      // Failed earlier (the error was sent then): an empty answer, as every message gets one
      // (the pool measures how far behind the worker is by them).
      port.postMessage({ id: m.id, appends: null, patches: [], samples: 0, bytes: 0 } satisfies FromWorker);
    } else if (m.op === 'pcm') {
      e.encoder.write(m.pcm);
      reply(m.id, e);
    } else {
      e.encoder.close();
      encoders.delete(m.id);
      reply(m.id, e, { closed: true });
    }
  } catch (err) {
    encoders.delete(m.id);
    port.postMessage({ id: m.id, appends: null, patches: [], samples: 0, bytes: 0, error: (err as Error).message } satisfies FromWorker);
  }
});
