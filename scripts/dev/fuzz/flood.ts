// The hostile side of `make fuzz`'s live flood (scripts/dev/fuzz/live.sh): inputs for a running
// daemon, sent from inside the lab's own namespaces only. Valid inputs are built with the
// project's own encoders and then broken with the property tests' mutations, so the flood
// reaches the checks past the first length test. Prints {"sent":N,"failed":N} when done.
//
//   flood.ts udp HOST PORT COUNT KIND [--ports N] [--key FILE] [--seed S]
//     KIND random     random bytes, 0 to 1472 of them
//          oversized  65507 bytes, the largest UDP payload over IPv4
//          ssdp       SSDP messages, mutated or truncated
//          searches   valid M-SEARCHes, each for an ST of its own (the pending-table flood)
//          mdns       mDNS queries and responses, mutated or truncated (ssdp-proxy --mdns)
//          frame      relay frames under --key (ssdp-proxy), every one altered: bad MAC
//          control    signed control messages under --key (udp-tunnel), altered, and
//                     bodies of random JSON
//          sealed     tunnel data sealed under --key (udp-tunnel), altered, or oversized
//          dns        DNS queries for svc.test (the source-port flood's payload)
//     --ports N       from N source ports, a socket each (default: one socket)
//   flood.ts frames IFACE COUNT KIND [--seed S]      (AF_PACKET, as a LAN host would send)
//     KIND junk       random bytes: runts, truncated and full-size (1514) Ethernet frames
//          ndp        NS/NA frames, mutated (a wrong checksum among them) or truncated
//          table      valid DAD NS for random addresses in 2001:db8:1::/64 (the table flood)
import dgram from 'node:dgram';
import fs from 'node:fs';
import { closeFd, ETH_P_ALL, openPacketSocket, writeFd } from '../../../src/lib/native';
import { encodeNeighborAdvertisement, encodeNeighborSolicitation } from '../../../src/mld-proxy/ndp';
import { solicitedNodeGroup } from '../../../src/mld-proxy/solicited-node';
import { readKeyFile } from '../../../src/ssdp-proxy/config';
import { encodeDns, nameOf, TYPE } from '../../../src/ssdp-proxy/dns';
import { encodeFrame, newMessageId } from '../../../src/ssdp-proxy/frame';
import { Sealer, TYPE_DATA } from '../../../src/udp-tunnel/aead';
import { signMessage } from '../../../src/udp-tunnel/control-auth';
import { deriveKeys } from '../../../src/udp-tunnel/keys';
import { encodeControlBody } from '../../../src/udp-tunnel/tunnel-spec';
import { mutate } from '../../../test/property';

const [mode, target, portOrCount, ...rest] = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : fallback;
};

// mulberry32: a small seeded generator, so a flood can be run again as it was.
let state = Number(opt('seed', '15')) >>> 0;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}
const int = (n: number) => Math.floor(rand() * n);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

/** One to four edits (the property tests' mutations), never none. */
function broken(valid: Uint8Array): Buffer {
  const kinds = ['flip', 'set', 'cut', 'insert', 'delete'] as const;
  for (;;) {
    const edits = Array.from({ length: 1 + int(4) }, () => [kinds[int(5)], int(1 << 16), int(256)] as [(typeof kinds)[number], number, number]);
    const out = mutate(valid, edits);
    if (!out.equals(Buffer.from(valid))) return out;
  }
}

function ssdpText(kind: number, st: string): Buffer {
  const lines =
    kind === 0
      ? ['M-SEARCH * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'MX: 1', `ST: ${st}`]
      : ['NOTIFY * HTTP/1.1', 'HOST: 239.255.255.250:1900', 'NT: upnp:rootdevice', 'NTS: ssdp:alive', `USN: uuid:${st}`, 'LOCATION: http://192.0.2.9/x.xml'];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

function udpPayloads(kind: string, host: string): () => Buffer {
  const keyFile = opt('key', '');
  switch (kind) {
    case 'random':
      return () => bytes(int(1473));
    case 'oversized':
      return () => Buffer.alloc(65507, int(256));
    case 'ssdp':
      return () => {
        const m = ssdpText(int(2), `urn:x-fuzz:${int(1e6)}`);
        return int(4) === 0 ? m.subarray(0, int(m.length)) : broken(m);
      };
    case 'mdns':
      return () => {
        const name = nameOf(`fuzz-${int(1e6)}._ipp._tcp.local`);
        const m = encodeDns({
          id: 0,
          flags: int(2) ? 0x8400 : 0,
          questions: [{ name: nameOf('_ipp._tcp.local'), type: TYPE.PTR, class: 1, unicastResponse: false }],
          answers: [{ name: nameOf('_ipp._tcp.local'), type: TYPE.PTR, class: 1, cacheFlush: false, ttl: 120, data: { kind: 'name', name } }],
          authorities: [],
          additionals: [{ name, type: TYPE.SRV, class: 1, cacheFlush: true, ttl: 120, data: { kind: 'srv', priority: 0, weight: 0, port: 631, target: nameOf('fuzz.local') } }],
        });
        return int(4) === 0 ? m.subarray(0, int(m.length)) : broken(m);
      };
    case 'searches': {
      let n = 0;
      return () => ssdpText(0, `urn:x-fuzz:flood:${n++}`);
    }
    case 'frame': {
      const key = readKeyFile(keyFile, '--key');
      return () =>
        broken(
          encodeFrame(
            { type: 'search', hops: 0, timestamp: Date.now(), id: newMessageId(), requestId: newMessageId(), sender: '10.0.0.2', recipient: host, origin: '10.0.0.2', payload: ssdpText(0, 'ssdp:all') },
            key,
          ),
        );
    }
    case 'control': {
      const key = deriveKeys(fs.readFileSync(keyFile, 'utf8')).control;
      const body = () => (int(2) ? encodeControlBody('add', { name: `f${int(1e6)}`, tunnelIP: '10.77.0.1', remoteServer: '192.0.2.77' }) : JSON.stringify({ op: bytes(3).toString('hex'), tunnel: [int(9)] }));
      return () => (int(3) === 0 ? Buffer.from(body()) : broken(Buffer.from(signMessage(key, body(), Date.now()))));
    }
    case 'sealed': {
      const sealer = new Sealer(deriveKeys(fs.readFileSync(keyFile, 'utf8')).data, Date.now());
      return () => (int(10) === 0 ? Buffer.alloc(65507, 1) : broken(sealer.seal(TYPE_DATA, bytes(20 + int(1400)))));
    }
    case 'dns':
      return () => Buffer.from('123401000001000000000000' + '037376630474657374' + '00' + '00010001', 'hex'); // svc.test A
    default:
      throw new Error(`unknown udp KIND ${kind}`);
  }
}

async function udp(host: string, port: number, count: number, kind: string): Promise<void> {
  const next = udpPayloads(kind, host);
  const ports = Number(opt('ports', '0'));
  const type = host.includes(':') ? 'udp6' : 'udp4';
  let sent = 0;
  let failed = 0;
  let inFlight = 0;
  // Send errors come to the callback; the 'error' handler keeps a stray one from throwing.
  const socket = () => dgram.createSocket(type).on('error', () => {});
  const shared = ports ? undefined : socket();
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (inFlight < 256 && sent + failed + inFlight < count) {
        inFlight++;
        const s = shared ?? socket();
        s.send(next(), port, host, (err) => {
          inFlight--;
          if (err) failed++;
          else sent++;
          if (!shared) s.close();
          if (sent + failed === count) resolve();
          else if (inFlight < 128) setImmediate(pump);
        });
      }
    };
    pump();
  });
  shared?.close();
  process.stdout.write(JSON.stringify({ sent, failed }) + '\n');
}

function ndpFrame(): Uint8Array {
  const target = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, ...bytes(8));
  const srcMac = Uint8Array.of(0x02, ...bytes(5));
  return int(2)
    ? encodeNeighborSolicitation({ source: int(2) ? new Uint8Array(16) : Uint8Array.of(0xfe, 0x80, ...new Uint8Array(6), ...bytes(8)), destination: solicitedNodeGroup(target), target, srcMac })
    : encodeNeighborAdvertisement({ source: target, destination: Uint8Array.of(0xff, 2, ...new Uint8Array(13), 1), target, srcMac, override: true });
}

function frames(ifname: string, count: number, kind: string): void {
  const ifindex = Number(fs.readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
  const fd = openPacketSocket({ ifindex, protocol: ETH_P_ALL });
  const next: () => Uint8Array =
    kind === 'junk'
      ? () => {
          const f = bytes([14, 60, 1514][int(3)] - int(10));
          f[12] = 0x86; // mostly IPv6, so the capture's filter lets some through
          f[13] = int(4) ? 0xdd : f[13];
          return f;
        }
      : kind === 'ndp'
        ? () => (int(4) === 0 ? ndpFrame().subarray(0, int(86)) : broken(ndpFrame()))
        : kind === 'table'
          ? () => {
              const target = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, ...bytes(8));
              return encodeNeighborSolicitation({ source: new Uint8Array(16), destination: solicitedNodeGroup(target), target, srcMac: '02:00:00:00:0f:02' });
            }
          : (() => {
              throw new Error(`unknown frames KIND ${kind}`);
            })();
  let sent = 0;
  let failed = 0;
  const batch = () => {
    for (let i = 0; i < 200 && sent + failed < count; i++) {
      const f = next();
      try {
        if (writeFd(fd, f)) sent++;
        else failed++; // the device queue is full: the kernel dropped it
      } catch {
        failed++; // a runt or an oversized frame the device refused
      }
    }
    if (sent + failed < count) setTimeout(batch, 2);
    else {
      closeFd(fd);
      process.stdout.write(JSON.stringify({ sent, failed }) + '\n');
    }
  };
  batch();
}

if (mode === 'udp') void udp(target, Number(portOrCount), Number(rest[0]), rest[1]);
else if (mode === 'frames') frames(target, Number(portOrCount), rest[0]);
else {
  process.stderr.write('usage: flood.ts udp HOST PORT COUNT KIND [--ports N] [--key FILE] [--seed S] | frames IFACE COUNT KIND [--seed S]\n');
  process.exit(2);
}
