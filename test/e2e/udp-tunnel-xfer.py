#!/usr/bin/env python3
# test/e2e/udp-tunnel-xfer.py - data through a tunnel, checked end to end:
#   tcp-recv ADDR PORT               accept one connection, print "<bytes> <sha256>"
#   tcp-send ADDR PORT MEGABYTES     send random bytes, print "<bytes> <sha256>"
#   udp-recv ADDR PORT SECONDS       print "<good> <bad>": datagrams whose SHA-256 prefix holds
#   udp-send ADDR PORT COUNT MAX     COUNT datagrams of random sizes 32..MAX, each its own hash first
import hashlib, os, random, socket, sys, time

mode = sys.argv[1]
fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
addr = (sys.argv[2], int(sys.argv[3]))
if mode == "tcp-recv":
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr); s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        h.update(b); n += len(b)
    print(n, h.hexdigest(), flush=True)
elif mode == "tcp-send":
    c = socket.create_connection(addr, timeout=30)
    h, n, total = hashlib.sha256(), 0, int(float(sys.argv[4]) * 1e6)
    while n < total:
        b = os.urandom(min(1 << 16, total - n))
        c.sendall(b); h.update(b); n += len(b)
    c.close()
    print(n, h.hexdigest())
elif mode == "udp-recv":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind(addr); s.settimeout(0.5)
    print("ready", flush=True)
    good = bad = 0
    end = time.time() + float(sys.argv[4])
    while time.time() < end:
        try: d = s.recv(65535)
        except socket.timeout: continue
        if hashlib.sha256(d[32:]).digest() == d[:32]: good += 1
        else: bad += 1
    print(good, bad, flush=True)
elif mode == "udp-send":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for _ in range(int(sys.argv[4])):
        body = os.urandom(random.randint(0, int(sys.argv[5]) - 32))
        s.sendto(hashlib.sha256(body).digest() + body, addr)
        time.sleep(0.001)
