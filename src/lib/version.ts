// The version is put in by the build (esbuild define); under the test runner
// it is read from package.json.
declare const __UDM_PROXIES_VERSION__: string | undefined;

export const VERSION: string =
  typeof __UDM_PROXIES_VERSION__ === 'string' ? __UDM_PROXIES_VERSION__ : (require('../../package.json') as { version: string }).version;

/**
 * What `--version` prints: "mld-proxy 0.1.0 (node 24.21.0, koffi 3.3.4, --jitless)".
 * The Node flags baked into the executable are shown, since they change its
 * speed and memory (scripts/build.mjs says which proxy has which).
 */
export function versionLine(name: string, parts: string[] = []): string {
  const all = [`node ${process.versions.node}`, ...parts, ...process.execArgv];
  return `${name} ${VERSION} (${all.join(', ')})\n`;
}
