// Classic BPF program for the capture socket: keep only ICMPv6 Neighbor
// Solicitations (135) and Advertisements (136) in untagged Ethernet frames
// whose IPv6 header is followed directly by ICMPv6, as RFC 4861 NDP is sent,
// and only frames the router received: its own outgoing NDP (ndppd's probes,
// its own NAs) says nothing about which hosts live on the LAN.
// Everything else is dropped in the kernel, so a busy LAN costs us nothing.
import type { BpfInstruction } from '../lib/native';

// <linux/bpf_common.h>
const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_H_ABS = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LD_B_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

// <linux/filter.h>: ancillary load of skb->pkt_type (SKF_AD_OFF + SKF_AD_PKTTYPE).
const SKF_AD_PKTTYPE = 0xfffff000 + 4;
export const PACKET_OUTGOING = 4;
const OFF_ETHERTYPE = 12;
const OFF_NEXT_HEADER = 14 + 6;
const OFF_ICMP_TYPE = 14 + 40;

export function ndpFilter(): BpfInstruction[] {
  return [
    { code: LD_W_ABS, jt: 0, jf: 0, k: SKF_AD_PKTTYPE },
    { code: JEQ_K, jt: 8, jf: 0, k: PACKET_OUTGOING },
    { code: LD_H_ABS, jt: 0, jf: 0, k: OFF_ETHERTYPE },
    { code: JEQ_K, jt: 0, jf: 6, k: 0x86dd },
    { code: LD_B_ABS, jt: 0, jf: 0, k: OFF_NEXT_HEADER },
    { code: JEQ_K, jt: 0, jf: 4, k: 58 },
    { code: LD_B_ABS, jt: 0, jf: 0, k: OFF_ICMP_TYPE },
    { code: JEQ_K, jt: 1, jf: 0, k: 135 },
    { code: JEQ_K, jt: 0, jf: 1, k: 136 },
    { code: RET_K, jt: 0, jf: 0, k: 0xffff },
    { code: RET_K, jt: 0, jf: 0, k: 0 },
  ];
}

/**
 * Runs the program on a frame, as the kernel would (only the opcodes used
 * above). Lets unit tests check the filter without a socket.
 */
export function runFilter(program: BpfInstruction[], frame: Uint8Array, pktType = 0): number {
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const i = program[pc];
    switch (i.code) {
      case LD_W_ABS:
        if (i.k !== SKF_AD_PKTTYPE) throw new Error(`word load at ${i.k} not supported`);
        a = pktType;
        break;
      case LD_H_ABS:
        if (i.k + 2 > frame.length) return 0;
        a = (frame[i.k] << 8) | frame[i.k + 1];
        break;
      case LD_B_ABS:
        if (i.k + 1 > frame.length) return 0;
        a = frame[i.k];
        break;
      case JEQ_K:
        pc += a === i.k ? i.jt : i.jf;
        break;
      case RET_K:
        return i.k;
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} not supported`);
    }
  }
  return 0;
}
