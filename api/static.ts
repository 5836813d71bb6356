/**
 * The web pages under public/ (sign-in, softphone, recordings) and the JsSIP bundle, served
 * without a token: GET and HEAD only, a content type per extension, a validator ETag (size and
 * mtime) answered 304 on If-None-Match, `index.html` for `/` and for a folder with a trailing
 * slash, `x.html` for the clean path `/x`. Paths are decoded once and refused when a segment is
 * `.`/`..` or any other dot-name, holds a backslash or NUL, or resolves (through symlinks too)
 * outside the root. `serveStatic` returns false when no file matches so the router can go on.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** public/ at the project root. */
export const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
};

/** Paths that name a page by another name. */
const ALIASES: Record<string, string> = { '/signin': 'index.html' };

/**
 * What the pages may load: scripts, styles and media from this origin only (recordings play from
 * /v1/...; the softphone's remote audio is a MediaStream), WebSocket to this host for SIP.
 */
const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export interface StaticOptions {
  /** The folder to serve (default: public/). */
  root?: string;
}

export interface StaticFile {
  path: string;
  stat: fs.Stats;
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function statFile(file: string): fs.Stats | null {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/** The file a URL path names under `root`, or null (missing, a folder, or refused). */
export function resolveStatic(urlPath: string, root: string = PUBLIC_DIR): StaticFile | null {
  const cut = urlPath.search(/[?#]/);
  const raw = cut >= 0 ? urlPath.slice(0, cut) : urlPath;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  const alias = ALIASES[decoded];
  let candidates: string[];
  if (alias !== undefined) {
    candidates = [alias];
  } else {
    const segments = decoded.slice(1).split('/');
    const last = segments.length - 1;
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i]!;
      // Empty segments only as the trailing slash of a folder ('/' or '/dir/'); no dot-names at all.
      if ((s === '' && i !== last) || s.startsWith('.')) return null;
    }
    const rel = segments.join('/');
    if (rel === '' || rel.endsWith('/')) candidates = [`${rel}index.html`];
    else if (path.extname(rel) === '') candidates = [rel, `${rel}.html`];
    else candidates = [rel];
  }
  const rootAbs = path.resolve(root);
  let rootReal: string;
  try {
    rootReal = fs.realpathSync(rootAbs);
  } catch {
    return null;
  }
  for (const rel of candidates) {
    const file = path.resolve(rootAbs, rel);
    if (!isInside(rootAbs, file)) return null;
    const stat = statFile(file);
    if (stat === null || !stat.isFile()) continue;
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch {
      continue;
    }
    if (!isInside(rootReal, real)) return null;
    return { path: real, stat };
  }
  return null;
}

function etagOf(stat: fs.Stats): string {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
}

/** If-None-Match (a list, weak or strong, or `*`) against our ETag: weak comparison (RFC 9110 §13.1.2). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === bare;
  });
}

/**
 * Serves the file `urlPath` names under public/ (or `options.root`); returns false, having
 * written nothing, when the method is not GET/HEAD or no file matches.
 */
export function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, urlPath: string, options: StaticOptions = {}): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const file = resolveStatic(urlPath, options.root ?? PUBLIC_DIR);
  if (file === null) return false;
  const type = contentTypeFor(file.path);
  const etag = etagOf(file.stat);
  const headers: Record<string, string> = {
    'content-type': type,
    etag,
    'last-modified': file.stat.mtime.toUTCString(),
    // Revalidate every time: pages and the bundle change with the gateway, the ETag makes it cheap.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  if (type.startsWith('text/html')) {
    headers['content-security-policy'] = PAGE_POLICY;
    headers['x-frame-options'] = 'DENY';
  }
  if (matchesEtag(req.headers['if-none-match'], etag)) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  headers['content-length'] = String(file.stat.size);
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  const stream = fs.createReadStream(file.path);
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  return true;
}
