// Which data-path techniques a daemon uses, and why not when it does not.
// Each is detected at start; a kernel that refuses one (EINVAL, ENOPROTOOPT,
// an old kernel) gets it logged once and the next simpler path used;
// --no-offload turns them all off for a user who hits a kernel bug.
export type OffloadName = 'batching' | 'udp-gso' | 'tun-offload' | 'tun-gro';

export interface OffloadState {
  /** on; off (--no-offload); refused (by the kernel, with the reason). */
  state: 'on' | 'off' | 'refused';
  /** What is used instead, or the errno name of a refusal. */
  detail?: string;
}

export type DataPathStatus = Partial<Record<OffloadName, OffloadState>>;

// For the tests only (not a user setting): names the offloads for which the
// daemon asks the kernel in a way it really refuses, standing in for an old
// kernel so the fallback is exercised by genuine errors. Comma-separated:
// batching (recvmmsg/sendmmsg with MSG_CMSG_COMPAT: EINVAL), udp-gso
// (SO_NO_CHECK on the data socket: each GSO send fails with EINVAL),
// tun-offload (TUNSETOFFLOAD with a flag no kernel knows: EINVAL).
const STAND_IN_ENV = 'UDM_PROXIES_TEST_KERNEL_REFUSES';

export function kernelRefusalStandIn(name: OffloadName): boolean {
  const v = process.env[STAND_IN_ENV];
  return !!v && v.split(',').includes(name);
}

export function describeOffload(s: OffloadState | undefined, on: string, off: string): string {
  if (!s) return off;
  if (s.state === 'on') return on;
  if (s.state === 'off') return `${off} (--no-offload)`;
  return `${off} (the kernel refused: ${s.detail ?? 'error'})`;
}
