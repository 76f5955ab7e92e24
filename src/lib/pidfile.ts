import fs from 'node:fs';
import { writeFileAtomic } from './atomic-file';

export interface PidFileDeps {
  pid?: number;
  // Command line of a process, or null when it does not exist.
  readCmdline?: (pid: number) => string | null;
}

export function readProcCmdline(pid: number): string | null {
  try {
    // Arguments are NUL-separated.
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

// Refuses to start a second copy of `name`. A pid file left by a crash, or one
// whose PID now belongs to another program (PIDs are reused after a reboot),
// is simply replaced: checking the command line avoids both traps.
export function acquirePidFile(file: string, name: string, deps: PidFileDeps = {}): () => void {
  const self = deps.pid ?? process.pid;
  const readCmdline = deps.readCmdline || readProcCmdline;

  const other = readPid(file);
  if (other !== null && other !== self) {
    const cmdline = readCmdline(other);
    if (cmdline !== null && cmdline.includes(name)) {
      throw new Error(`${name} is already running as PID ${other} (pid file ${file}); stop it first`);
    }
  }
  try {
    writeFileAtomic(file, `${self}\n`);
  } catch (err) {
    throw new Error(`cannot write pid file ${file}: ${(err as Error).message}`);
  }

  // Only remove the file while it is ours: a newer instance may have replaced it.
  return function release() {
    if (readPid(file) !== self) return;
    try {
      fs.unlinkSync(file);
    } catch {}
  };
}
