/**
 * `npm start`: runs the gateway with embedded defaults (see --help). Prints one line per
 * listener; SIGTERM/SIGINT stop it gracefully (calls get BYE, recordings are finalised).
 */
import { HttpServer } from '../api/index.js';
import { Gateway, defaultRoutes, helpText, loadConfig, loadRoutes } from '../calls/index.js';

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
  const gateway = new Gateway(config, routes);
  await gateway.start();
  const http = new HttpServer(gateway);
  const httpPort = await http.listen(config.httpPort, config.bindAddress);
  const host = config.bindAddress;
  console.log(`recgate: SIP udp ${host}:${gateway.transport.port}`);
  console.log(`recgate: SIP tcp ${host}:${gateway.transport.port}`);
  if (config.tls) console.log(`recgate: SIP tls ${host}:${gateway.transport.tlsPort}`);
  console.log(`recgate: HTTP ${host}:${httpPort}`);
  console.log(`recgate: RTP ${config.rtpPorts.min}-${config.rtpPorts.max}, public address ${config.publicAddress}, recordings in ${gateway.recordingsDir}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`recgate: ${signal}, stopping (calls get BYE, recordings are finalised)`);
    void Promise.all([gateway.stop(), http.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('recgate: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
