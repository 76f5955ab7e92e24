#!/usr/bin/env python3
# test/e2e/udp-tunnel-send.py - raw control and data datagrams for udp-tunnel.test.sh,
# written independently of the daemon's code (HKDF and HMAC from RFC 5869 / 2104):
#   control MODE KEYFILE ADDR PORT BODY   MODE: plain | signed | replay | expired | badmac
#   data ADDR PORT COUNT                  COUNT junk datagrams shaped like sealed data
# Prints each reply (or "no reply").
import hashlib, hmac, os, socket, sys, time

def hkdf(ikm, salt, info):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()

def ask(s, msg, addr):
    s.sendto(msg, addr)
    try:
        print(s.recvfrom(65535)[0].decode(errors="replace").splitlines()[-1])
    except socket.timeout:
        print("no reply")

def control(mode, keyfile, host, port, body):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    addr = (host, int(port))
    if mode == "plain":
        return ask(s, body.encode(), addr)
    secret = open(keyfile, "rb").read().strip()
    key = hkdf(secret, b"udp-tunnel v1", b"control hmac")
    ts = int(time.time() * 1000) - (120000 if mode == "expired" else 0)
    nonce = os.urandom(16).hex()
    mac = hmac.new(key, f"UT1 {ts} {nonce}\n{body}".encode(), hashlib.sha256).hexdigest()
    if mode == "badmac":
        body = body.replace("list", "list ")
    msg = f"UT1 {ts} {nonce}\n{mac}\n{body}".encode()
    ask(s, msg, addr)
    if mode == "replay":
        ask(s, msg, addr)

def data(host, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(count)):
        # A session that started now (a plausible peer restart), so the receiver
        # must check the tag; an older one would be refused before that.
        session = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(10)
        s.sendto(b"\x01" + session + (i + 1).to_bytes(8, "big") + os.urandom(100), (host, int(port)))

if sys.argv[1] == "control":
    control(*sys.argv[2:7])
else:
    data(*sys.argv[2:5])
