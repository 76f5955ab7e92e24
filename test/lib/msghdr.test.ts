// mmsghdr packing: every pointer lands where the kernel will look for it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IOVEC_BYTES, MessageVector, MMSGHDR_BYTES, MSG_IOV, MSG_IOVLEN, MSG_LEN, MSG_NAME, MSG_NAMELEN, readPointer, writePointer } from '../../src/lib/msghdr';
import { SOCKADDR_SLOT } from '../../src/lib/sockaddr';

// An address above 2^32, as user-space addresses are on x86_64 and aarch64.
const BASE = 0x7f3a_1234_5000;

test('pointers are 64-bit little-endian, exact up to 2^53', () => {
  const v = new DataView(new ArrayBuffer(16));
  writePointer(v, 0, BASE + 7);
  assert.is(v.getBigUint64(0, true), BigInt(BASE + 7));
  assert.is(readPointer(v, 0), BASE + 7);
  writePointer(v, 8, 2 ** 53 - 1);
  assert.is(readPointer(v, 8), 2 ** 53 - 1);
});

test('a vector: headers, then iovecs, then address slots; each header points at its own', () => {
  const at = 128;
  const count = 4;
  const buf = new ArrayBuffer(at + MessageVector.bytes(count, 2));
  const v = new DataView(buf);
  const m = new MessageVector(v, BASE, at, count, 2);
  assert.is(MMSGHDR_BYTES, 64);
  assert.is(m.address, BASE + at);
  const iovAt = at + count * 64;
  const nameAt = iovAt + count * 2 * IOVEC_BYTES;
  assert.is(nameAt + count * SOCKADDR_SLOT, buf.byteLength, 'the region is exactly as large as bytes() says');
  for (let i = 0; i < count; i++) {
    const h = at + i * 64;
    assert.is(m.headerAddress(i), BASE + h);
    assert.is(readPointer(v, h + MSG_NAME), BASE + nameAt + i * SOCKADDR_SLOT, `msg_name of ${i}`);
    assert.is(v.getUint32(h + MSG_NAMELEN, true), SOCKADDR_SLOT);
    assert.is(readPointer(v, h + MSG_IOV), BASE + iovAt + i * 2 * IOVEC_BYTES, `msg_iov of ${i}`);
    assert.is(readPointer(v, h + MSG_IOVLEN), 1, 'one iovec until told otherwise');
    assert.is(v.getUint32(h + MSG_LEN, true), 0);
  }
  m.setIov(2, 1, BASE + 0x10000, 1400);
  m.setIovCount(2, 2);
  assert.is(readPointer(v, iovAt + (2 * 2 + 1) * 16), BASE + 0x10000);
  assert.is(readPointer(v, iovAt + (2 * 2 + 1) * 16 + 8), 1400);
  assert.is(readPointer(v, at + 2 * 64 + MSG_IOVLEN), 2);
  m.setIovLength(2, 1, 99);
  assert.is(readPointer(v, iovAt + (2 * 2 + 1) * 16 + 8), 99);
});

test('names: own slot, another address, none (connected); lengths and flags read back', () => {
  const buf = new ArrayBuffer(MessageVector.bytes(2));
  const v = new DataView(buf);
  const m = new MessageVector(v, BASE, 0, 2);
  m.useName(1, BASE + 0x999, 16);
  assert.is(readPointer(v, 64 + MSG_NAME), BASE + 0x999);
  assert.is(m.nameLength(1), 16);
  m.noName(1);
  assert.is(readPointer(v, 64 + MSG_NAME), 0);
  assert.is(m.nameLength(1), 0);
  m.useOwnName(1);
  assert.is(readPointer(v, 64 + MSG_NAME), BASE + m.nameOffset(1));
  assert.is(m.nameLength(1), SOCKADDR_SLOT);
  v.setUint32(64 + MSG_LEN, 1234, true); // as the kernel writes it
  v.setInt32(64 + 48, 0x20, true);
  assert.is(m.length(1), 1234);
  assert.is(m.flags(1), 0x20);
  m.setLength(1, 5);
  assert.is(m.length(1), 5);
});

test.run();
