// The version is put in by the build (esbuild define); under the test runner
// it is read from package.json.
declare const __UDM_PROXIES_VERSION__: string | undefined;

export const VERSION: string =
  typeof __UDM_PROXIES_VERSION__ === 'string' ? __UDM_PROXIES_VERSION__ : (require('../../package.json') as { version: string }).version;
