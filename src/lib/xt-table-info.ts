// A cheap look at whether the legacy filter table changed, with no process
// started: the kernel's IPT_SO_GET_INFO (IP6T_ for IPv6) on a raw socket, the
// call iptables-legacy itself opens with, returns the table's hook offsets,
// rule count and size. A rebuild by UniFi's controller changes them; reading
// them every second or two costs one system call.
//
// struct ipt_getinfo (<linux/netfilter_ipv4/ip_tables.h>, the same for IPv6):
//   char name[32]; u32 valid_hooks; u32 hook_entry[5]; u32 underflow[5];
//   u32 num_entries; u32 size;                                  = 84 bytes
import fs from 'node:fs';
import { allocBlock, rawCalls, SyscallError, type NativeBlock } from './native';
import type { Family } from './firewall-rules';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_RAW = 255;
const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const SO_GET_INFO = 64; // IPT_SO_GET_INFO and IP6T_SO_GET_INFO (IPT_BASE_CTL + 0)
const INFO_BYTES = 84;

/** Whether the legacy filter table of this family exists, read from /proc: asking the kernel would load its module. */
export function legacyFilterExists(family: Family): boolean {
  try {
    return fs.readFileSync(family === 6 ? '/proc/net/ip6_tables_names' : '/proc/net/ip_tables_names', 'utf8').split('\n').includes('filter');
  } catch {
    return false;
  }
}

export class TableInfo {
  private fd = -1;
  private readonly block: NativeBlock;

  constructor(private readonly family: Family) {
    this.block = allocBlock(INFO_BYTES + 8);
  }

  /**
   * The table's shape as a short string (equal shapes: most likely the same
   * table). Throws SyscallError when the kernel will not say (no CAP_NET_RAW,
   * no legacy iptables).
   */
  fingerprint(): string {
    const c = rawCalls();
    if (this.fd < 0) {
      const fd = c.socket(this.family === 6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
      if (fd < 0) throw new SyscallError('socket(SOCK_RAW)', c.errno());
      this.fd = fd;
    }
    const b = this.block;
    b.u8.fill(0, 0, INFO_BYTES);
    b.u8.set(Buffer.from('filter'), 0);
    b.view.setUint32(INFO_BYTES, INFO_BYTES, true);
    if (c.getsockopt(this.fd, this.family === 6 ? IPPROTO_IPV6 : IPPROTO_IP, SO_GET_INFO, b.base, b.base + INFO_BYTES) < 0) {
      throw new SyscallError('getsockopt(SO_GET_INFO)', c.errno());
    }
    const words: number[] = [];
    for (let off = 32; off < INFO_BYTES; off += 4) words.push(b.view.getUint32(off, true));
    return words.join(',');
  }

  close(): void {
    if (this.fd >= 0) rawCalls().close(this.fd);
    this.fd = -1;
    this.block.free();
  }
}
