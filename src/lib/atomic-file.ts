import fs from 'node:fs';
import path from 'node:path';

// Readers (and a power cut) see either the old file or the new one, never half
// of it: write a temp file in the same directory, fsync it, rename over.
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${file}.tmp.${process.pid}`;
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w', mode);
    fs.fchmodSync(fd, mode); // openSync's mode is masked by the umask
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(path.dirname(file));
}

// Makes the rename itself durable; best effort, some filesystems refuse it.
function syncDir(dir: string) {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {}
}
