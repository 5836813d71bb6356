/**
 * Starts a real Gateway in-process on 127.0.0.1 with free ports and a scratch data dir, and
 * tears it down even when a test fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gateway, defaultRoutes, parseRoutes } from '../../calls/index.js';
import type { Call, GatewayConfig } from '../../calls/index.js';
import { RecordingService, SqliteStore, WebhookDispatcher } from '../../recorder/index.js';
import { randomPortRange } from './udpPeer.js';

export interface TestGateway {
  gateway: Gateway;
  dispatcher: WebhookDispatcher;
  config: GatewayConfig;
  sipPort: number;
  dir: string;
  logs: Record<string, unknown>[];
  /** Resolves with the next call that ends (its recordings final). */
  nextEnded(): Promise<Call>;
  /** Every ended call so far. */
  ended: Call[];
  stop(): Promise<void>;
}

export async function startGateway(
  opts: { routes?: unknown; config?: Partial<GatewayConfig>; dir?: string; keepDir?: boolean; webhookDelayMs?: number } = {},
): Promise<TestGateway> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'recgate-gw-'));
  const [min, max] = randomPortRange();
  const config: GatewayConfig = {
    sipPort: 0,
    httpPort: 0,
    bindAddress: '127.0.0.1',
    publicAddress: '127.0.0.1',
    rtpPorts: { min, max },
    dataDir: dir,
    routesFile: null,
    rtpTimeoutSec: 60,
    maxCallSec: 0,
    tls: null,
    jitterMs: 60,
    minFreeMb: 16,
    opusComplexity: 5,
    relayMedia: true,
    encoderThreads: 1,
    inviteRate: 200,
    maxCalls: 0,
    // Off: tests here share the gateway's event loop and some block it on purpose (the tests of
    // the guard turn it on).
    overloadDelayMs: 0,
    overloadUtilization: 0,
    overloadEncoderLagMs: 0,
    log: 'off',
    apiToken: '',
    publicUrl: '',
    sipRealm: 'recgate',
    iceServers: [],
    ...opts.config,
  };
  fs.mkdirSync(dir, { recursive: true });
  // The same wiring as bin/recgate.ts: store, webhook dispatcher (fast retries here), recordings.
  const store = SqliteStore.open(path.join(dir, 'recgate.db'), { checkpoint: 'worker' });
  const dispatcher = new WebhookDispatcher({ store, baseDelayMs: opts.webhookDelayMs ?? 50, pollMs: 50 });
  const recordings = new RecordingService({ store, dataDir: dir, dispatcher, minFreeBytes: config.minFreeMb * 1024 * 1024, encoderThreads: config.encoderThreads });
  const gateway = new Gateway(config, opts.routes === undefined ? defaultRoutes() : parseRoutes(opts.routes), { store, recordings });
  dispatcher.start();
  const logs: Record<string, unknown>[] = [];
  gateway.log = (e) => logs.push(e);
  const ended: Call[] = [];
  const waiters: ((c: Call) => void)[] = [];
  gateway.on('callEnded', (c) => {
    ended.push(c);
    waiters.shift()?.(c);
  });
  await gateway.start();
  return {
    gateway,
    dispatcher,
    config,
    sipPort: gateway.transport.port,
    dir,
    logs,
    ended,
    nextEnded: () => new Promise<Call>((resolve) => waiters.push(resolve)),
    async stop() {
      await gateway.stop();
      await dispatcher.stop();
      store.close();
      if (opts.keepDir !== true) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
