// The tun side of a tunnel: the device through the native layer (readiness
// polling, never the threadpool), its address, MTU and routes through `ip`.
import { execFile } from 'node:child_process';
import { closeFd, openTunDevice, readFd, watchReadable, writeFd, type ReadableWatch } from '../lib/native';
import { formatCidr, parseCidr } from '../lib/ip';
import { prefixLength, type TunnelSpec } from './tunnel-spec';

export interface DeviceOps {
  /** Creates the tun device; returns its non-blocking fd. */
  open(name: string): number;
  /** Address, MTU, up, routes. */
  configure(spec: TunnelSpec): Promise<void>;
  removeRoutes(spec: TunnelSpec): Promise<void>;
  /** Closing the fd removes the (non-persistent) device and every route through it. */
  close(fd: number): void;
  read(fd: number, buf: Uint8Array): number;
  write(fd: number, buf: Uint8Array, length: number): boolean;
  watch(fd: number, onReadable: () => void): ReadableWatch;
}

function ip(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 5000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

function subnet(address: string, len: number): string {
  const c = parseCidr(`${address}/${len}`);
  return formatCidr(c);
}

export const linuxDevices: DeviceOps = {
  open: openTunDevice,
  async configure(spec) {
    // The address goes on as a /32 and its subnet as a plain route: with
    // "10.0.2.3/30" the kernel would add 10.0.2.3 as the subnet's broadcast
    // address on the peer's side (the original README's own 10.0.2.2 <-> 10.0.2.3
    // pair with its client's default /30), and a tun device has no broadcast.
    const len = prefixLength(spec.netmask);
    await ip(['addr', 'replace', `${spec.tunnelIP}/32`, 'dev', spec.name]);
    await ip(['link', 'set', 'dev', spec.name, 'mtu', String(spec.mtu), 'up']);
    if (len < 32) await ip(['route', 'replace', subnet(spec.tunnelIP, len), 'dev', spec.name, 'src', spec.tunnelIP, 'proto', 'kernel', 'scope', 'link']);
    for (const r of spec.routes) await ip(['route', 'replace', r, 'dev', spec.name]);
  },
  async removeRoutes(spec) {
    for (const r of spec.routes) await ip(['route', 'del', r, 'dev', spec.name]).catch(() => {});
  },
  close: closeFd,
  read: readFd,
  write: writeFd,
  watch: watchReadable,
};
