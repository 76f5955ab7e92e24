// Captures NDP frames on one downstream interface through an AF_PACKET
// socket. A raw ICMPv6 socket is not enough: it never sees a DAD NS sent to a
// solicited-node group the router itself has not joined, hence AF_PACKET with
// allmulti. Reads are driven by readiness polling, never the threadpool.
import { closeFd, ETH_P_IPV6, openPacketSocket, readFd, watchReadable, type ReadableWatch, type SyscallError } from '../lib/native';
import { ndpFilter } from './bpf';

// Frames handled per wake-up before yielding to the event loop, so a flood
// costs CPU in bounded slices and timers still run.
const BATCH = 256;

export interface Capture {
  readonly ifname: string;
  readonly ifindex: number;
  close(): void;
}

export function openCapture(
  ifname: string,
  ifindex: number,
  onFrame: (frame: Uint8Array, ifname: string) => void,
  onError: (err: Error) => void,
  onWarning: (message: string) => void = () => {},
): Capture {
  const opts = { ifindex, protocol: ETH_P_IPV6, filter: ndpFilter(), allmulti: true, receiveBuffer: 256 * 1024 };
  let fd: number;
  try {
    fd = openPacketSocket(opts);
  } catch (err) {
    // Without allmulti we still see NDP sent to groups the router has joined
    // and most NAs; DAD probes to other groups may be missed. Better than
    // nothing (qemu-user, for one, answers PACKET_ADD_MEMBERSHIP with ENOPROTOOPT).
    if ((err as SyscallError).code !== 'ENOPROTOOPT' && (err as SyscallError).code !== 'EINVAL') throw err;
    fd = openPacketSocket({ ...opts, allmulti: false });
    onWarning(`${ifname}: cannot receive all multicast (${(err as Error).message}); DAD probes of new hosts may be missed`);
  }
  // One buffer reused for every frame: decoders take views, never keep them.
  const buf = new Uint8Array(2048);
  let closed = false;
  let watch: ReadableWatch | undefined;
  const drain = () => {
    for (let i = 0; i < BATCH && !closed; i++) {
      let n: number;
      try {
        n = readFd(fd, buf);
      } catch (err) {
        onError(err as Error);
        return;
      }
      if (n < 0) return;
      onFrame(buf.subarray(0, n), ifname);
    }
    // More may be waiting: the poll is level-triggered and wakes us again.
  };
  watch = watchReadable(fd, drain);
  return {
    ifname,
    ifindex,
    close() {
      if (closed) return;
      closed = true;
      watch?.close();
      watch = undefined;
      closeFd(fd);
    },
  };
}
