// ChaCha20-Poly1305 (RFC 8439) over native memory, in place. Two engines:
//
// - evp: OpenSSL's EVP interface, called through koffi on the copy of OpenSSL
//   that the Node executable itself carries and exports (the same library
//   node:crypto uses). One cipher context per key, re-initialised with each
//   nonce; the packet is encrypted or decrypted where it lies, with no object
//   or Buffer per packet: five FFI calls, ~3 us for 1400 bytes here.
// - node: node:crypto's createCipheriv per packet, the fallback where the
//   symbols cannot be found. Measured on this machine for 1400 bytes: ~13 us a
//   packet, of which the cipher's actual work is ~1.2 us; the rest is
//   creating the cipher object (~2-3 us), final() (~5 us) and getAuthTag()
//   (~3 us) with their Buffers and JS-to-C++ transitions.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { loadKoffi } from '../lib/koffi-loader';
import { allocBlock, type NativeBlock } from '../lib/native';

export const TAG_BYTES = 16;
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;

/** A key and its cipher state. Offsets are into blk; the nonce is 4 zero bytes and a 64-bit big-endian counter. */
export interface AeadKey {
  setKey(key: Uint8Array): void;
  /** Encrypts len bytes at off in place, authenticating aadLen bytes at aadOff; the tag goes to tagOff. */
  seal(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): void;
  /** Decrypts in place; false when the tag does not match (the bytes at off are then garbage). */
  open(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): boolean;
  free(): void;
}

export interface AeadEngine {
  readonly name: string;
  key(): AeadKey;
}

const TWO32 = 2 ** 32;

interface Evp {
  cipher: number;
  ctxNew(): number;
  ctxFree(ctx: number): void;
  init(ctx: number, cipher: number, engine: number, key: number, iv: number, enc: number): number;
  update(ctx: number, out: number, outl: number, inp: number, inl: number): number;
  final(ctx: number, out: number, outl: number): number;
  ctrl(ctx: number, type: number, arg: number, ptr: number): number;
}

let evp: Evp | null | undefined;

function loadEvp(): Evp | null {
  if (evp !== undefined) return evp;
  try {
    const koffi = loadKoffi();
    // The running executable: Node links OpenSSL in and exports its symbols.
    const self = koffi.load(null as unknown as string);
    const f = (s: string) => self.func(s);
    const cipherOf = f('intptr_t EVP_chacha20_poly1305()');
    evp = {
      cipher: cipherOf(),
      ctxNew: f('intptr_t EVP_CIPHER_CTX_new()'),
      ctxFree: f('void EVP_CIPHER_CTX_free(intptr_t ctx)'),
      init: f('int EVP_CipherInit_ex(intptr_t ctx, intptr_t cipher, intptr_t engine, intptr_t key, intptr_t iv, int enc)'),
      update: f('int EVP_CipherUpdate(intptr_t ctx, intptr_t out, intptr_t outl, intptr_t inp, int inl)'),
      final: f('int EVP_CipherFinal_ex(intptr_t ctx, intptr_t out, intptr_t outl)'),
      ctrl: f('int EVP_CIPHER_CTX_ctrl(intptr_t ctx, int type, int arg, intptr_t ptr)'),
    };
    if (!evp.cipher) evp = null;
  } catch {
    evp = null;
  }
  return evp;
}

// Nonce, out-length and key scratch for the EVP calls; the loop is single-threaded.
let evpScratch: NativeBlock | undefined;

class EvpKey implements AeadKey {
  private ctx: number;
  private readonly s: NativeBlock;

  constructor(private readonly e: Evp) {
    this.ctx = e.ctxNew();
    if (!this.ctx) throw new Error('EVP_CIPHER_CTX_new failed');
    this.s = evpScratch ??= allocBlock(64);
  }

  setKey(key: Uint8Array): void {
    this.s.u8.set(key, 32);
    const ok = this.e.init(this.ctx, this.e.cipher, 0, this.s.base + 32, 0, 1);
    this.s.u8.fill(0, 32, 64);
    if (ok !== 1) throw new Error('EVP_CipherInit_ex refused the key');
  }

  private nonce(counter: number): number {
    const v = this.s.view;
    v.setUint32(0, 0);
    v.setUint32(4, Math.floor(counter / TWO32));
    v.setUint32(8, counter >>> 0);
    return this.s.base;
  }

  seal(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): void {
    const e = this.e;
    const outl = this.s.base + 16;
    const b = blk.base;
    e.init(this.ctx, 0, 0, 0, this.nonce(counter), 1);
    e.update(this.ctx, 0, outl, b + aadOff, aadLen);
    if (len > 0) e.update(this.ctx, b + off, outl, b + off, len);
    e.final(this.ctx, b + off + len, outl);
    e.ctrl(this.ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, b + tagOff);
  }

  open(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): boolean {
    const e = this.e;
    const outl = this.s.base + 16;
    const b = blk.base;
    e.init(this.ctx, 0, 0, 0, this.nonce(counter), 0);
    e.ctrl(this.ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, b + tagOff);
    e.update(this.ctx, 0, outl, b + aadOff, aadLen);
    if (len > 0) e.update(this.ctx, b + off, outl, b + off, len);
    return e.final(this.ctx, b + off + len, outl) === 1;
  }

  free(): void {
    if (this.ctx) this.e.ctxFree(this.ctx);
    this.ctx = 0;
  }
}

const nonceBuf = Buffer.alloc(12);
function nodeNonce(counter: number): Buffer {
  nonceBuf.writeUInt32BE(Math.floor(counter / TWO32), 4);
  nonceBuf.writeUInt32BE(counter >>> 0, 8);
  return nonceBuf;
}

class NodeKey implements AeadKey {
  private k?: KeyObject;

  setKey(key: Uint8Array): void {
    this.k = createSecretKey(Buffer.from(key));
  }

  seal(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): void {
    const c = createCipheriv('chacha20-poly1305', this.k!, nodeNonce(counter), { authTagLength: TAG_BYTES });
    c.setAAD(blk.u8.subarray(aadOff, aadOff + aadLen), { plaintextLength: len });
    blk.u8.set(c.update(blk.u8.subarray(off, off + len)), off);
    c.final();
    blk.u8.set(c.getAuthTag(), tagOff);
  }

  open(blk: NativeBlock, counter: number, aadOff: number, aadLen: number, off: number, len: number, tagOff: number): boolean {
    try {
      const d = createDecipheriv('chacha20-poly1305', this.k!, nodeNonce(counter), { authTagLength: TAG_BYTES });
      d.setAAD(blk.u8.subarray(aadOff, aadOff + aadLen), { plaintextLength: len });
      d.setAuthTag(blk.u8.subarray(tagOff, tagOff + TAG_BYTES));
      blk.u8.set(d.update(blk.u8.subarray(off, off + len)), off);
      d.final();
      return true;
    } catch {
      return false;
    }
  }

  free(): void {
    this.k = undefined;
  }
}

export const nodeCryptoEngine: AeadEngine = { name: 'node:crypto', key: () => new NodeKey() };

/** OpenSSL's EVP through koffi, or undefined where the executable does not export it. */
export function evpEngine(): AeadEngine | undefined {
  const e = loadEvp();
  return e ? { name: 'OpenSSL EVP, in place', key: () => new EvpKey(e) } : undefined;
}

/** The fastest engine there is. */
export function defaultEngine(): AeadEngine {
  return evpEngine() ?? nodeCryptoEngine;
}
