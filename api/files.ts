/**
 * Serving a recording file: Content-Type by format, Content-Length, a strong ETag (the file's
 * SHA-256), Accept-Ranges, one byte range (RFC 9110 §14) answered 206 or 416, If-None-Match
 * answered 304, and Content-Disposition inline or attachment.
 */
import fs from 'node:fs';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './errors.js';

export interface FileToServe {
  path: string;
  size: number;
  contentType: string;
  etag: string;
  filename: string;
  inline: boolean;
}

/** Parses a single `bytes=` range against `size`; null for no (or an ignorable) Range header. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) {
    // Several ranges or another unit: RFC 9110 lets us ignore it and send everything.
    if (/^bytes=/.test(header.trim()) && header.includes(',')) return null;
    throw new ApiError('range_not_satisfiable', `cannot serve Range "${header}"`, { headers: { 'content-range': `bytes */${size}` } });
  }
  const [, a, b] = m;
  let start: number;
  let end: number;
  if (a === '') {
    if (b === '') throw new ApiError('range_not_satisfiable', 'empty range', { headers: { 'content-range': `bytes */${size}` } });
    const suffix = Number(b);
    if (suffix === 0) throw new ApiError('range_not_satisfiable', 'zero-length suffix range', { headers: { 'content-range': `bytes */${size}` } });
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) {
    throw new ApiError('range_not_satisfiable', `range ${start}-${end} is outside the ${size} bytes`, { headers: { 'content-range': `bytes */${size}` } });
  }
  return { start, end };
}

export async function serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: FileToServe): Promise<void> {
  const etag = `"${file.etag}"`;
  const base: Record<string, string> = {
    'content-type': file.contentType,
    'accept-ranges': 'bytes',
    etag,
    'cache-control': 'private, max-age=0',
    'content-disposition': `${file.inline ? 'inline' : 'attachment'}; filename="${file.filename}"`,
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, base);
    res.end();
    return;
  }
  // If-Range with another ETag: the client's copy is stale, send the whole file.
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(req.headers.range, file.size);
  if (range === null) {
    res.writeHead(200, { ...base, 'content-length': String(file.size) });
    if (req.method === 'HEAD') return void res.end();
    await pipeline(fs.createReadStream(file.path), res);
    return;
  }
  res.writeHead(206, {
    ...base,
    'content-length': String(range.end - range.start + 1),
    'content-range': `bytes ${range.start}-${range.end}/${file.size}`,
  });
  if (req.method === 'HEAD') return void res.end();
  await pipeline(fs.createReadStream(file.path, { start: range.start, end: range.end }), res);
}
