// Loads koffi's native module. Inside a single-executable application (SEA) the
// matching koffi.node travels as an asset: Node can only dlopen a file, so it is
// written to a private directory, loaded, and unlinked at once. Outside a SEA
// (tests, the dist/*.cjs bundle) the koffi package from node_modules is used.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;

let cached: KoffiModule | undefined;

export function loadKoffi(): KoffiModule {
  if (cached) return cached;
  const sea = seaModule();
  cached = sea && sea.isSea() ? loadFromSea(sea) : (require('koffi') as KoffiModule);
  return cached;
}

interface SeaApi {
  isSea(): boolean;
  getRawAsset(key: string): ArrayBuffer;
}

function seaModule(): SeaApi | undefined {
  try {
    return require('node:sea') as SeaApi;
  } catch {
    return undefined; // Node older than 20.12: not a SEA either
  }
}

// Where to unpack: beside the executable first (/data is not noexec on UniFi OS,
// and the binary itself runs from there), then /run and the temp dir. A directory
// mounted noexec makes dlopen fail, so each candidate is tried in turn.
function candidateDirs(): string[] {
  const dirs = [path.dirname(process.execPath), '/run', os.tmpdir()];
  if (process.env.UDM_PROXIES_NATIVE_DIR) dirs.unshift(process.env.UDM_PROXIES_NATIVE_DIR);
  return [...new Set(dirs)];
}

function loadFromSea(sea: SeaApi): KoffiModule {
  const bytes = new Uint8Array(sea.getRawAsset('koffi.node'));
  const errors: string[] = [];
  for (const dir of candidateDirs()) {
    let privateDir: string | undefined;
    try {
      privateDir = fs.mkdtempSync(path.join(dir, '.koffi-'));
      const file = path.join(privateDir, 'koffi.node');
      fs.writeFileSync(file, bytes, { mode: 0o500 });
      const mod = { exports: {} as KoffiModule };
      process.dlopen(mod, file);
      return mod.exports;
    } catch (err) {
      errors.push(`${dir}: ${(err as Error).message}`);
    } finally {
      if (privateDir) fs.rmSync(privateDir, { recursive: true, force: true });
    }
  }
  throw new Error(`cannot load the native module (koffi.node) from any of: ${errors.join('; ')}`);
}
