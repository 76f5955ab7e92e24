// The tun side of a tunnel: the device through the native layer (readiness
// polling, never the threadpool), its address, MTU and routes through `ip`.
import { execFile } from 'node:child_process';
import { closeFd, openTunDevice, readInto, setTunOffload, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, watchReadable, writeFrom, type NativeBlock, type ReadableWatch } from '../lib/native';
import { kernelRefusalStandIn } from '../lib/offload';
import { errnoName } from '../lib/udp-socket';
import { formatCidr, parseCidr } from '../lib/ip';
import { prefixLength, type TunnelSpec } from './tunnel-spec';

export interface OpenedDevice {
  fd: number;
  /** Packets each way carry a virtio-net header (TSO/checksum offload on). */
  vnet: boolean;
  /** The kernel refused the offloads (errno name): the device is plain. */
  refused?: string;
}

export interface DeviceOps {
  /** Creates the tun device (non-blocking); with offload, asks for TSO and checksum offload. */
  open(name: string, offload: boolean): OpenedDevice;
  /** Address, MTU, up, routes. */
  configure(spec: TunnelSpec): Promise<void>;
  removeRoutes(spec: TunnelSpec): Promise<void>;
  /** Closing the fd removes the (non-persistent) device and every route through it. */
  close(fd: number): void;
  /** One packet into blk at off: its length, or -1 when none waits. */
  read(fd: number, blk: NativeBlock, off: number, max: number): number;
  /** One packet from blk; false when the device's queue is full. */
  write(fd: number, blk: NativeBlock, off: number, len: number): boolean;
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

// No kernel knows this TUN_F_ bit: TUNSETOFFLOAD refuses it with EINVAL (the
// kernel's own way to probe for features), the old-kernel stand-in of the tests.
const UNKNOWN_TUN_F = 0x8000;

function openDevice(name: string, offload: boolean): OpenedDevice {
  if (!offload) return { fd: openTunDevice(name), vnet: false };
  const fd = openTunDevice(name, true);
  const r = setTunOffload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | (kernelRefusalStandIn('tun-offload') ? UNKNOWN_TUN_F : 0));
  if (r === 0) return { fd, vnet: true };
  // The device exists only while its fd is open: a plain one takes its place.
  closeFd(fd);
  return { fd: openTunDevice(name), vnet: false, refused: errnoName(-r) };
}

export const linuxDevices: DeviceOps = {
  open: openDevice,
  async configure(spec) {
    // The address goes on as a /32 and its subnet as a plain route: with
    // "10.0.2.3/30" the kernel would add 10.0.2.3 as the subnet's broadcast
    // address on the peer's side (the original README's own 10.0.2.2 <-> 10.0.2.3
    // pair with its client's default /30), and a tun device has no broadcast.
    const len = prefixLength(spec.netmask);
    await ip(['addr', 'replace', `${spec.tunnelIP}/32`, 'dev', spec.name]);
    await ip(['link', 'set', 'dev', spec.name, 'mtu', String(spec.mtu), 'up']);
    if (len < 32) await ip(['route', 'replace', subnet(spec.tunnelIP, len), 'dev', spec.name, 'src', spec.tunnelIP, 'proto', 'kernel', 'scope', 'link']);
    // No duplicate address detection: a point-to-point tun has no one to collide with,
    // and DAD would hold the address (and routes from it) back for a second or more.
    if (spec.tunnelIP6) await ip(['-6', 'addr', 'replace', spec.tunnelIP6, 'dev', spec.name, 'nodad']);
    for (const r of spec.routes) await ip(['route', 'replace', r, 'dev', spec.name]);
  },
  async removeRoutes(spec) {
    for (const r of spec.routes) await ip(['route', 'del', r, 'dev', spec.name]).catch(() => {});
  },
  close: closeFd,
  read: readInto,
  write: writeFrom,
  watch: watchReadable,
};
