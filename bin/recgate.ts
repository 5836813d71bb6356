/**
 * `npm start`: runs the gateway with embedded defaults (see --help). Prints one line per
 * listener; SIGTERM/SIGINT stop it gracefully (calls get BYE, recordings are finalised).
 */
import path from 'node:path';
import { HttpServer, ensureAdmin } from '../api/index.js';
import { Gateway, defaultRoutes, helpText, loadConfig, loadRoutes } from '../calls/index.js';
import { RecordingService, SqliteStore, WebhookDispatcher, warmFileHash } from '../recorder/index.js';
import fs from 'node:fs';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText());
    return;
  }
  let config;
  let routes;
  try {
    config = loadConfig(argv, process.env);
    routes = config.routesFile === null ? defaultRoutes() : loadRoutes(config.routesFile);
  } catch (err) {
    console.error(`recgate: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const store = SqliteStore.open(path.join(config.dataDir, 'recgate.db'), { checkpoint: 'worker' });
  const dispatcher = new WebhookDispatcher({ store });
  const recordings = new RecordingService({ store, dataDir: config.dataDir, dispatcher, minFreeBytes: config.minFreeMb * 1024 * 1024, opusComplexity: config.opusComplexity, encoderThreads: config.encoderThreads });
  const gateway = new Gateway(config, routes, { store, recordings });
  recordings.on('event', (e) => gateway.log({ event: e.type, recording_id: e.recording_id, reference_id: e.reference_id, status: e.status, reason: e.reason || undefined }));
  const admin = ensureAdmin(store, config.dataDir, config.apiToken);
  dispatcher.start();
  // The checksum worker loads now, while nothing waits on it, not at the first recording's end
  // (not awaited: start-up never waits on it, and a worker that cannot load falls back anyway).
  void warmFileHash();
  await gateway.start();
  const http = new HttpServer(gateway);
  const httpPort = await http.listen(config.httpPort, config.bindAddress);
  const httpsPort =
    config.tls === null ? 0 : await http.listenTls(config.tls.httpsPort, config.bindAddress, { cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) });
  recordings.publicUrl = config.publicUrl || `http://${config.publicAddress.includes(':') ? `[${config.publicAddress}]` : config.publicAddress}:${httpPort}`;
  const host = config.bindAddress;
  // Loads the native UDP addon if it is not yet loaded: before the start-up lines, which go out together.
  const udpPath = gateway.udpPath();
  console.log(`recgate: SIP udp ${host}:${gateway.transport.port}`);
  console.log(`recgate: SIP tcp ${host}:${gateway.transport.port}`);
  if (config.tls) console.log(`recgate: SIP tls ${host}:${gateway.transport.tlsPort}`);
  console.log(`recgate: HTTP ${host}:${httpPort} (API ${recordings.publicUrl}/v1, SIP over ws at /sip)`);
  if (httpsPort !== 0) console.log(`recgate: HTTPS ${host}:${httpsPort} (SIP over wss at /sip)`);
  console.log(`recgate: RTP ${config.rtpPorts.min}-${config.rtpPorts.max} (${udpPath}), public address ${config.publicAddress}, recordings in ${gateway.recordingsDir}`);
  if (admin.generated !== null) console.log(`recgate: admin API token (shown once, kept in ${admin.file}): ${admin.generated}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`recgate: ${signal}, stopping (calls get BYE, recordings are finalised)`);
    void (async () => {
      await gateway.stop();
      await http.close();
      await dispatcher.stop();
      store.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('recgate: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
