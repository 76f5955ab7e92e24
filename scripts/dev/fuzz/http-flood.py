#!/usr/bin/env python3
# scripts/dev/fuzz/http-flood.py - the metrics endpoint's flood for `make fuzz` (issue 22):
# COUNT connections to HOST:PORT, each one of: random bytes, a truncated or mutated
# request line, oversized headers, a body, a wrong method or path, or nothing at all
# (held open, up to HOLD at once, so the connection cap and the timeouts are what end
# them). Only inside the lab's namespaces. Prints {"sent": N, "refused": N}.
# Usage: http-flood.py HOST PORT COUNT [--seed N] [--hold N] [--bind ADDR]
import json, random, socket, sys

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 22
hold_max = int(sys.argv[sys.argv.index("--hold") + 1]) if "--hold" in sys.argv else 32
bind = sys.argv[sys.argv.index("--bind") + 1] if "--bind" in sys.argv else None
rnd = random.Random(seed)
GOOD = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

def payload():
    k = rnd.randrange(8)
    if k == 0: return bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 2048)))
    if k == 1: return GOOD[: rnd.randrange(1, len(GOOD))]
    if k == 2:
        b = bytearray(GOOD)
        for _ in range(rnd.randrange(1, 6)): b[rnd.randrange(len(b))] = rnd.randrange(256)
        return bytes(b)
    if k == 3: return b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * rnd.randrange(4000, 70000) + b"\r\n\r\n"
    if k == 4: return b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"z" * 1000
    if k == 5: return rnd.choice([b"DELETE", b"PUT", b"HEAD", b"OPTIONS", b"BREW"]) + b" /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    if k == 6: return b"GET /" + bytes(rnd.choice(b"abcdefgh/%?.") for _ in range(rnd.randrange(1, 3000))) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    return b""  # nothing: held open

held, sent, refused = [], 0, 0
for _ in range(count):
    p = payload()
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        if bind: s.bind((bind, 0))
        s.connect((host, port))
        if p: s.sendall(p)
        sent += 1
    except OSError:
        refused += 1
        s.close()
        continue
    if p:
        s.close()
    else:
        held.append(s)
        if len(held) > hold_max: held.pop(0).close()
for s in held: s.close()
print(json.dumps({"sent": sent, "refused": refused}))
