/**
 * Bundles JsSIP (which ships CommonJS only) into public/vendor/jssip.js: one minified IIFE that
 * defines the global `JsSIP`, loaded by the softphone page with a plain <script>. Skips the work
 * when the bundle is newer than node_modules/jssip/package.json and this file, so `npm start`
 * and the tests can run it every time. The output is written to a temporary file and renamed,
 * so a page or a concurrent build never sees half a bundle.
 *
 *   node --import tsx web/build.ts [--force]
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
const SELF = fileURLToPath(import.meta.url);

/** public/vendor/jssip.js at the project root. */
export const JSSIP_BUNDLE = fileURLToPath(new URL('../public/vendor/jssip.js', import.meta.url));

export interface BuildOptions {
  /** Where to write the bundle (default public/vendor/jssip.js). */
  outfile?: string;
  /** Build even when the bundle is up to date. */
  force?: boolean;
}

export interface BuildResult {
  outfile: string;
  /** False when the existing bundle was up to date. */
  built: boolean;
  bytes: number;
  version: string;
  ms: number;
}

function mtimeOf(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
}

export async function buildJssip(options: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const outfile = path.resolve(options.outfile ?? JSSIP_BUNDLE);
  const pkgFile = require.resolve('jssip/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string; main?: string };
  const entry = path.join(path.dirname(pkgFile), pkg.main ?? 'lib/JsSIP.js');
  const out = mtimeOf(outfile);
  if (!options.force && out > mtimeOf(pkgFile) && out > mtimeOf(SELF)) {
    return { outfile, built: false, bytes: fs.statSync(outfile).size, version: pkg.version, ms: performance.now() - started };
  }
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName: 'JsSIP',
    platform: 'browser',
    target: ['chrome105', 'firefox105', 'safari15'],
    minify: true,
    legalComments: 'eof',
    banner: { js: `/* JsSIP ${pkg.version} (MIT, https://jssip.net), bundled by recgate web/build.ts with esbuild. Generated: do not edit. */` },
    write: false,
    logLevel: 'silent',
  });
  const contents = result.outputFiles[0]?.contents;
  if (contents === undefined) throw new Error('esbuild produced no output for JsSIP');
  fs.mkdirSync(path.dirname(outfile), { recursive: true });
  const tmp = `${outfile}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, contents);
    fs.renameSync(tmp, outfile);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return { outfile, built: true, bytes: contents.length, version: pkg.version, ms: performance.now() - started };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  buildJssip({ force: process.argv.includes('--force') }).then(
    (r) => {
      const rel = path.relative(process.cwd(), r.outfile);
      console.log(r.built ? `built ${rel}: JsSIP ${r.version}, ${r.bytes} bytes in ${r.ms.toFixed(0)} ms` : `${rel} is up to date (JsSIP ${r.version})`);
    },
    (err: unknown) => {
      console.error(`web/build.ts: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
