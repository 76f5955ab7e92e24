// Joins and leaves solicited-node groups on the upstream interface with
// IPV6_JOIN_GROUP (dgram addMembership with an interface scope). The kernel
// then sends the MLD reports (RFC 3810) and answers the snooping switch's
// queries for us, and sends MLD Done when we leave or exit.
//
// Memberships cost socket option memory (net.core.optmem_max), so one socket
// holds only so many: about 56 bytes each, i.e. ~365 groups with Linux 4.19's
// default of 20 KiB, ~2300 with 128 KiB. Groups are spread over several
// sockets, each filled to a share of what optmem_max allows.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';

const BYTES_PER_MEMBERSHIP = 56;

export function groupsPerSocket(optmemMax: number | undefined): number {
  if (!optmemMax || !Number.isFinite(optmemMax)) return 256;
  return Math.max(16, Math.min(1024, Math.floor((optmemMax * 0.7) / BYTES_PER_MEMBERSHIP)));
}

function readOptmemMax(): number | undefined {
  try {
    return Number(fs.readFileSync('/proc/sys/net/core/optmem_max', 'utf8').trim());
  } catch {
    return undefined;
  }
}

interface Member {
  socket: dgram.Socket;
  groups: Set<string>;
}

export interface GroupJoiner {
  /** Throws the system error (ENODEV, ENOMEM...) when the join fails. */
  join(group: string): void;
  leave(group: string): void;
  has(group: string): boolean;
  readonly size: number;
  readonly sockets: number;
  /** Drops every membership without leaving (the interface is gone or was re-created). */
  reset(): void;
  close(): void;
}

export function createGroupJoiner(ifname: string, perSocket = groupsPerSocket(readOptmemMax())): GroupJoiner {
  const members: Member[] = [];
  const byGroup = new Map<string, Member>();
  const scope = `::%${ifname}`;

  function newSocket(): Member {
    const socket = dgram.createSocket({ type: 'udp6', reuseAddr: true });
    // Never bound by us, so never read: the socket exists only to hold
    // memberships (libuv binds it to [::]:0 on the first addMembership). An
    // unhandled 'error' event would crash the daemon, so one is handled.
    socket.on('error', () => {});
    socket.unref();
    const m = { socket, groups: new Set<string>() };
    members.push(m);
    return m;
  }

  function closeMember(m: Member): void {
    members.splice(members.indexOf(m), 1);
    try {
      m.socket.close();
    } catch {
      // already closed
    }
  }

  function pick(): Member {
    for (const m of members) if (m.groups.size < perSocket) return m;
    return newSocket();
  }

  return {
    join(group) {
      if (byGroup.has(group)) return;
      let m = pick();
      try {
        m.socket.addMembership(group, scope);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Out of option memory sooner than we reckoned: one more socket.
        if (code !== 'ENOMEM' && code !== 'ENOBUFS') throw err;
        m = newSocket();
        m.socket.addMembership(group, scope);
      }
      m.groups.add(group);
      byGroup.set(group, m);
    },
    leave(group) {
      const m = byGroup.get(group);
      if (!m) return;
      byGroup.delete(group);
      m.groups.delete(group);
      try {
        m.socket.dropMembership(group, scope);
      } catch {
        // The interface is gone: the membership went with it.
      }
      if (m.groups.size === 0) closeMember(m);
    },
    has: (group) => byGroup.has(group),
    get size() {
      return byGroup.size;
    },
    get sockets() {
      return members.length;
    },
    reset() {
      byGroup.clear();
      for (const m of [...members]) closeMember(m);
    },
    close() {
      // Closing a socket leaves its groups: the kernel sends MLD Done.
      byGroup.clear();
      for (const m of [...members]) closeMember(m);
    },
  };
}
