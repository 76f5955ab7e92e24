#!/usr/bin/env python3
# test/e2e/udp-tunnel-replay.py - for udp-tunnel-roam.test.sh: keyed data datagrams a
# tunnel really carried (UDP payloads from a tcpdump capture, Ethernet), sent again from
# this host's own address, as an attacker who sees the wire and moved nowhere would:
#   PCAP ADDR PORT MODE    MODE: replay  (each captured datagram as it was)
#                                forge   (a byte of its ciphertext flipped, its counter
#                                         raised by 2*10^6 so that the tag must decide)
#                                newer   (counter raised by 10^6, so not a replay; the
#                                         tag then fails, since nobody has the key)
# Prints how many it sent.
import socket, struct, sys

def payloads(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(order + "I", data[20:24])[0]
    at, out = 24, []
    while at + 16 <= len(data):
        incl = struct.unpack(order + "I", data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        ip = frame[14:] if linktype == 1 else frame[16:]  # Ethernet, or Linux cooked
        if ip and ip[0] >> 4 == 4:
            udp = ip[(ip[0] & 15) * 4:]
            if ip[9] == 17:
                out.append(udp[8:])
        elif ip and ip[0] >> 4 == 6 and ip[6] == 17:
            out.append(ip[48:])
    return out

def main(path, host, port, mode):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    sent = 0
    for p in payloads(path):
        if len(p) < 42:
            continue
        b = bytearray(p)
        if mode == "forge":
            b[30] ^= 0xFF
            b[17:25] = (int.from_bytes(b[17:25], "big") + 2_000_000).to_bytes(8, "big")
        elif mode == "newer":
            counter = int.from_bytes(b[17:25], "big") + 1_000_000
            b[17:25] = counter.to_bytes(8, "big")
        s.sendto(bytes(b), (host, int(port)))
        sent += 1
    print(sent)

main(*sys.argv[1:5])
