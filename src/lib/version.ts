// The version and the commit are put in by the build (esbuild define); under
// the test runner the version is read from package.json and the commit is
// unknown.
declare const __UDM_PROXIES_VERSION__: string | undefined;
declare const __UDM_PROXIES_COMMIT__: string | undefined;

export const VERSION: string =
  typeof __UDM_PROXIES_VERSION__ === 'string' ? __UDM_PROXIES_VERSION__ : (require('../../package.json') as { version: string }).version;

/** The commit the executable was built from: 12 hex digits, "-dirty" if the tree had changes, or "unknown". */
export const COMMIT: string = typeof __UDM_PROXIES_COMMIT__ === 'string' ? __UDM_PROXIES_COMMIT__ : 'unknown';

/**
 * What `--version` prints:
 * "mld-proxy 0.1.0 (commit 01e72e8abcde, node 24.21.0, koffi 3.3.4, --jitless)".
 * The Node flags baked into the executable are shown, since they change its
 * speed and memory (scripts/build/build.mjs says which proxy has which).
 */
export function versionLine(name: string, parts: string[] = []): string {
  const all = [`commit ${COMMIT}`, `node ${process.versions.node}`, ...parts, ...process.execArgv];
  return `${name} ${VERSION} (${all.join(', ')})\n`;
}
