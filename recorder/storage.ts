/**
 * Where recording files live. The gateway writes through the local filesystem (the encoders
 * stream to a file), so a storage hands out local paths; the local one keeps files under
 * <data dir>/recordings/. An object-store backend would implement the same interface by
 * uploading a finished file and keeping a local cache for serving.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RecordingStorage {
  /** A new file's key (stored in the recording's row) and the local path to write it to. */
  allocate(id: string, extension: string): { key: string; path: string };
  /** The local path of a stored file. */
  localPath(key: string): string;
  /** Size of a stored file, or null when it is gone. */
  stat(key: string): { size: number } | null;
  /** Removes a stored file (no error when it is already gone). */
  remove(key: string): void;
}

export class LocalStorage implements RecordingStorage {
  readonly dataDir: string;
  readonly dir: string;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.dir = path.join(dataDir, 'recordings');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  allocate(id: string, extension: string): { key: string; path: string } {
    const key = path.join('recordings', `${id}.${extension}`);
    return { key, path: this.localPath(key) };
  }

  localPath(key: string): string {
    // Keys are ours (recordings/<uuid>.<ext>); refuse anything that would leave the data dir.
    const p = path.resolve(this.dataDir, key);
    if (!p.startsWith(path.resolve(this.dataDir) + path.sep)) throw new RangeError(`storage key ${key} is outside the data dir`);
    return p;
  }

  stat(key: string): { size: number } | null {
    try {
      return { size: fs.statSync(this.localPath(key)).size };
    } catch {
      return null;
    }
  }

  remove(key: string): void {
    fs.rmSync(this.localPath(key), { force: true });
  }
}
