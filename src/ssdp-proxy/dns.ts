// DNS messages as multicast DNS carries them (RFC 1035 s4, RFC 6762): decode with
// full validation, encode with name compression. Pure functions; a message from
// anyone on a LAN or a peer is either a DnsMessage or a DnsError naming what
// was wrong, never another throw.
//
// Names are arrays of labels kept as latin1 strings, one character per byte, so
// any label (mDNS labels are UTF-8 with spaces and dots, RFC 6763 s4.3) survives
// decode and encode unchanged. Names inside rdata are decoded too for the types
// whose rdata may hold compressed names in mDNS (RFC 6762 s18.14: NS, CNAME,
// PTR, DNAME, SOA, MX, SRV, NSEC), so a re-encoded record never carries a
// pointer into another message; any other rdata is kept as bytes (RFC 3597 s4:
// no compression in the rdata of other types).
import { InputError } from '../lib/input-error';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../lib/ip';

/** RFC 6762 s17: a multicast DNS message is at most 9000 bytes including the IP and UDP headers. */
export const MAX_DNS_BYTES = 9000;
const HEADER_BYTES = 12;
/** A question is at least a root name (1) and type and class (4); a record adds TTL and rdlength (6). */
const MIN_QUESTION_BYTES = 5;
const MIN_RECORD_BYTES = 11;
/** RFC 1035 s2.3.4 */
const MAX_LABEL_BYTES = 63;
const MAX_NAME_BYTES = 255;

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39, OPT: 41, NSEC: 47, ANY: 255 } as const;
/** The top bit of a question's class: unicast response wanted (QU, RFC 6762 s5.4). */
const QU_BIT = 0x8000;
/** The top bit of a record's class: cache flush, the record is unique (RFC 6762 s10.2). */
const CACHE_FLUSH_BIT = 0x8000;

export type Name = string[];

export interface DnsQuestion {
  name: Name;
  type: number;
  /** The class without the QU bit. */
  class: number;
  unicastResponse: boolean;
}

export type RData =
  | { kind: 'address'; address: string }
  | { kind: 'name'; name: Name }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: Name }
  | { kind: 'mx'; preference: number; exchange: Name }
  | { kind: 'soa'; mname: Name; rname: Name; numbers: Buffer }
  | { kind: 'nsec'; next: Name; bitmaps: Buffer }
  | { kind: 'raw'; bytes: Buffer };

export interface DnsRecord {
  name: Name;
  type: number;
  /** The class without the cache-flush bit. */
  class: number;
  cacheFlush: boolean;
  ttl: number;
  data: RData;
}

export interface DnsMessage {
  id: number;
  /** The header's second 16 bits: QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE. */
  flags: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export class DnsError extends InputError {
  name = 'DnsError';
}

export const isResponse = (m: DnsMessage): boolean => (m.flags & 0x8000) !== 0;
export const opcode = (m: DnsMessage): number => (m.flags >> 11) & 0xf;
export const rcode = (m: DnsMessage): number => m.flags & 0xf;

/** A name as people write it ("Printer._ipp._tcp.local"), for logs and matching. */
export function nameText(name: Name): string {
  return name.length ? name.map((l) => Buffer.from(l, 'latin1').toString('utf8')).join('.') : '.';
}

/** A name from its text form (labels without dots); for tests and configuration. */
export function nameOf(text: string): Name {
  return text.split('.').filter((l) => l.length > 0).map((l) => Buffer.from(l, 'utf8').toString('latin1'));
}

/** The key two names compare under: DNS names are case-insensitive in ASCII (RFC 1035 s2.3.3, RFC 6762 s16). */
export function nameKey(name: Name): string {
  return name.map((l) => l.replace(/[A-Z]/g, (c) => c.toLowerCase())).join('\u0000');
}

// ---------------------------------------------------------------------- decode

class Reader {
  constructor(
    readonly buf: Buffer,
    public at: number,
  ) {}

  need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new DnsError(`${what} at byte ${this.at} runs past the end (${this.buf.length} bytes)`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++];
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = Buffer.from(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return b;
  }

  /**
   * A name, following compression pointers (RFC 1035 s4.1.4). Each pointer
   * must point before the start of the labels it ends (the name's first byte,
   * or the previous pointer's target): the places jumped to strictly decrease,
   * so a chain ends and a loop is refused. `end` bounds the name's own bytes
   * (a name in rdata stays inside the rdata); what a pointer leads to may be
   * anywhere earlier in the message.
   */
  name(what: string, end = this.buf.length): Name {
    const labels: string[] = [];
    let length = 1; // the root label
    let pos = this.at;
    let segment = this.at;
    let limit = end;
    let jumped = false;
    for (;;) {
      if (pos >= limit) throw new DnsError(`${what}: name at byte ${this.at} runs past the end`);
      const len = this.buf[pos];
      if (len === 0) {
        pos++;
        break;
      }
      const top = len & 0xc0;
      if (top === 0xc0) {
        if (pos + 2 > limit) throw new DnsError(`${what}: compression pointer at byte ${pos} runs past the end`);
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1];
        if (target >= segment) throw new DnsError(`${what}: compression pointer at byte ${pos} to ${target} does not point back (a loop)`);
        if (target < HEADER_BYTES) throw new DnsError(`${what}: compression pointer at byte ${pos} into the header`);
        if (!jumped) this.at = pos + 2;
        jumped = true;
        pos = segment = target;
        limit = this.buf.length;
        continue;
      }
      if (top !== 0) throw new DnsError(`${what}: label type 0x${top.toString(16)} at byte ${pos} (only plain labels and pointers exist)`);
      if (pos + 1 + len > limit) throw new DnsError(`${what}: label at byte ${pos} runs past the end`);
      length += 1 + len;
      if (length > MAX_NAME_BYTES) throw new DnsError(`${what}: name longer than ${MAX_NAME_BYTES} bytes`);
      labels.push(this.buf.toString('latin1', pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
    if (!jumped) this.at = pos;
    return labels;
  }
}

function decodeQuestion(r: Reader, i: number): DnsQuestion {
  const what = `question ${i}`;
  const name = r.name(what);
  const type = r.u16(what);
  const cls = r.u16(what);
  return { name, type, class: cls & ~QU_BIT, unicastResponse: (cls & QU_BIT) !== 0 };
}

function decodeRData(r: Reader, type: number, length: number, what: string): RData {
  const end = r.at + length;
  r.need(length, `${what} rdata of ${length} bytes`);
  let data: RData;
  switch (type) {
    case TYPE.A:
    case TYPE.AAAA: {
      const want = type === TYPE.A ? 4 : 16;
      if (length !== want) throw new DnsError(`${what}: ${type === TYPE.A ? 'A' : 'AAAA'} rdata of ${length} bytes, not ${want}`);
      const b = r.bytes(length, what);
      data = { kind: 'address', address: want === 4 ? formatIPv4(b) : formatIPv6(b) };
      break;
    }
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
    case TYPE.DNAME:
      data = { kind: 'name', name: r.name(what, end) };
      break;
    case TYPE.SRV: {
      const priority = r.u16(what);
      const weight = r.u16(what);
      const port = r.u16(what);
      data = { kind: 'srv', priority, weight, port, target: r.name(what, end) };
      break;
    }
    case TYPE.MX: {
      const preference = r.u16(what);
      data = { kind: 'mx', preference, exchange: r.name(what, end) };
      break;
    }
    case TYPE.SOA: {
      const mname = r.name(what, end);
      const rname = r.name(what, end);
      data = { kind: 'soa', mname, rname, numbers: r.bytes(20, what) };
      break;
    }
    case TYPE.NSEC: {
      const next = r.name(what, end);
      data = { kind: 'nsec', next, bitmaps: r.bytes(Math.max(0, end - r.at), what) };
      break;
    }
    case TYPE.TXT: {
      // RFC 6763 s6.1: one or more length-prefixed strings filling the rdata exactly.
      for (let p = r.at; p < end; p += 1 + r.buf[p]) {
        if (p + 1 + r.buf[p] > end) throw new DnsError(`${what}: TXT string at byte ${p} runs past its rdata`);
      }
      data = { kind: 'raw', bytes: r.bytes(length, what) };
      break;
    }
    default:
      data = { kind: 'raw', bytes: r.bytes(length, what) };
  }
  if (r.at !== end) throw new DnsError(`${what}: rdata of ${length} bytes holds ${r.at - (end - length)}`);
  return data;
}

function decodeRecord(r: Reader, what: string): DnsRecord {
  const name = r.name(what);
  const type = r.u16(what);
  const cls = r.u16(what);
  const ttl = r.u32(what);
  const length = r.u16(what);
  return { name, type, class: cls & ~CACHE_FLUSH_BIT, cacheFlush: (cls & CACHE_FLUSH_BIT) !== 0, ttl, data: decodeRData(r, type, length, what) };
}

export function decodeDns(buf: Uint8Array): DnsMessage {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (b.length < HEADER_BYTES) throw new DnsError(`${b.length} bytes, shorter than a DNS header`);
  if (b.length > MAX_DNS_BYTES) throw new DnsError(`${b.length} bytes, at most ${MAX_DNS_BYTES} in multicast DNS`);
  const counts = [b.readUInt16BE(4), b.readUInt16BE(6), b.readUInt16BE(8), b.readUInt16BE(10)];
  // Refuse counts the packet cannot hold before reading any of them.
  const least = counts[0] * MIN_QUESTION_BYTES + (counts[1] + counts[2] + counts[3]) * MIN_RECORD_BYTES;
  if (HEADER_BYTES + least > b.length) {
    throw new DnsError(`counts ${counts.join('/')} need at least ${HEADER_BYTES + least} bytes, the packet has ${b.length}`);
  }
  const r = new Reader(b, HEADER_BYTES);
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push(decodeQuestion(r, i));
  const sections = (['answer', 'authority', 'additional'] as const).map((s, k) => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < counts[k + 1]; i++) out.push(decodeRecord(r, `${s} ${i}`));
    return out;
  });
  if (r.at !== b.length) throw new DnsError(`${b.length - r.at} bytes after the last record`);
  return { id: b.readUInt16BE(0), flags: b.readUInt16BE(2), questions, answers: sections[0], authorities: sections[1], additionals: sections[2] };
}

// ---------------------------------------------------------------------- encode

/** Writes into one buffer of the largest size a message may have; past it, a DnsError. */
class Writer {
  private readonly buf = Buffer.alloc(MAX_DNS_BYTES);
  length = 0;
  /** Where each name suffix was written (exact bytes, so a pointer never changes a label's case). */
  private suffixes = new Map<string, number>();

  private room(n: number): number {
    if (this.length + n > MAX_DNS_BYTES) throw new DnsError(`more than ${MAX_DNS_BYTES} bytes, the most in multicast DNS`);
    const at = this.length;
    this.length += n;
    return at;
  }

  put(b: Uint8Array): void {
    this.buf.set(b, this.room(b.length));
  }

  u8(v: number): void {
    this.buf[this.room(1)] = v;
  }

  u16(v: number): void {
    this.buf.writeUInt16BE(v, this.room(2));
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v >>> 0, this.room(4));
  }

  patchU16(at: number, v: number): void {
    this.buf.writeUInt16BE(v, at);
  }

  name(name: Name): void {
    let wire = 1;
    for (const l of name) {
      const n = Buffer.byteLength(l, 'latin1');
      if (n < 1 || n > MAX_LABEL_BYTES) throw new DnsError(`label of ${n} bytes in ${nameText(name)}, 1..${MAX_LABEL_BYTES} allowed`);
      wire += 1 + n;
    }
    if (wire > MAX_NAME_BYTES) throw new DnsError(`name ${nameText(name)} longer than ${MAX_NAME_BYTES} bytes`);
    for (let i = 0; i < name.length; i++) {
      const key = name.slice(i).join('\u0000');
      const at = this.suffixes.get(key);
      if (at !== undefined) return this.u16(0xc000 | at);
      // A pointer has 14 bits of offset.
      if (this.length < 0x4000) this.suffixes.set(key, this.length);
      const label = Buffer.from(name[i], 'latin1');
      this.u8(label.length);
      this.put(label);
    }
    this.u8(0);
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

function encodeRData(w: Writer, rec: DnsRecord): void {
  const d = rec.data;
  switch (d.kind) {
    case 'address': {
      const b = rec.type === TYPE.A ? parseIPv4(d.address) : parseIPv6(d.address);
      w.put(Buffer.from(b));
      break;
    }
    case 'name':
      w.name(d.name);
      break;
    case 'srv':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      w.name(d.target);
      break;
    case 'mx':
      w.u16(d.preference);
      w.name(d.exchange);
      break;
    case 'soa':
      w.name(d.mname);
      w.name(d.rname);
      w.put(d.numbers);
      break;
    case 'nsec':
      w.name(d.next);
      w.put(d.bitmaps);
      break;
    case 'raw':
      w.put(d.bytes);
  }
}

function encodeRecord(w: Writer, rec: DnsRecord): void {
  w.name(rec.name);
  w.u16(rec.type);
  w.u16(rec.class | (rec.cacheFlush ? CACHE_FLUSH_BIT : 0));
  w.u32(rec.ttl);
  // The rdata length is known once the rdata is written (its names may be compressed).
  const lengthAt = w.length;
  w.u16(0);
  const before = w.length;
  encodeRData(w, rec);
  const rdlength = w.length - before;
  if (rdlength > 0xffff) throw new DnsError(`rdata of ${rdlength} bytes`);
  w.patchU16(lengthAt, rdlength);
}

export function encodeDns(m: DnsMessage): Buffer {
  const w = new Writer();
  w.u16(m.id);
  w.u16(m.flags);
  const sections = [m.answers, m.authorities, m.additionals];
  for (const n of [m.questions.length, ...sections.map((s) => s.length)]) {
    if (n > 0xffff) throw new DnsError(`${n} entries in a section, at most 65535`);
    w.u16(n);
  }
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class | (q.unicastResponse ? QU_BIT : 0));
  }
  for (const s of sections) for (const rec of s) encodeRecord(w, rec);
  return w.done();
}
