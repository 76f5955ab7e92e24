#!/usr/bin/env python3
"""Measuring tool for scripts/dev/bench-ssdp-proxy.sh; prints one JSON object.

  ssdpbench.py search ROUNDS CLIENTS ST TIMEOUT [ADDR,...]
                                                  rounds of concurrent M-SEARCHes, each
                                                  from its own socket (client i from the
                                                  i-th ADDR); success and the time to
                                                  the first reply
  ssdpbench.py blast SECONDS                      NOTIFYs to the group as fast as possible
  ssdpbench.py count SECONDS MARK                 counts group datagrams containing MARK
"""
import json, socket, statistics, sys, threading, time

GROUP = ("239.255.255.250", 1900)


def one_search(st, timeout, out, i, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    msg = f'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: {st}\r\n\r\n'.encode()
    t0 = time.perf_counter()
    s.sendto(msg, GROUP)
    s.settimeout(timeout)
    try:
        while True:
            data, _ = s.recvfrom(9000)
            if f"ST: {st}".lower().encode() in data.lower():
                out[i] = (time.perf_counter() - t0) * 1000
                break
    except socket.timeout:
        out[i] = None
    s.close()


def search(rounds, clients, st, timeout, addrs):
    times, ok, total = [], 0, 0
    for _ in range(rounds):
        out = [None] * clients
        th = [threading.Thread(target=one_search, args=(st, timeout, out, i, addrs[i % len(addrs)])) for i in range(clients)]
        for t in th: t.start()
        for t in th: t.join()
        total += clients
        for v in out:
            if v is not None:
                ok += 1
                times.append(v)
        time.sleep(0.05)
    return {"ok": ok, "total": total, "success_pct": round(100.0 * ok / total, 1),
            "median_ms": round(statistics.median(times), 2) if times else None}


def blast(seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n, end = 0, time.time() + seconds
    while time.time() < end:
        msg = (f"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: urn:x-bench:blast\r\nNTS: ssdp:alive\r\n"
               f"USN: uuid:bench-{n}::urn:x-bench:blast\r\nLOCATION: http://192.168.1.10:9/x.xml\r\n\r\n").encode()
        s.sendto(msg, GROUP)
        n += 1
        if n % 200 == 0: time.sleep(0.001)  # let the sender's queue drain a little
    return {"sent": n, "seconds": seconds}


def count(seconds, mark):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 1900))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP[0]) + socket.inet_aton("0.0.0.0"))
    print("ready", file=sys.stderr, flush=True)
    n, first, last = 0, None, None
    end = time.time() + seconds
    s.settimeout(0.2)
    while time.time() < end:
        try:
            data, _ = s.recvfrom(9000)
        except socket.timeout:
            continue
        if mark.encode() in data:
            n += 1
            last = time.time()
            first = first or last
    span = (last - first) if first and last and last > first else 0
    return {"received": n, "per_second": round(n / span) if span else 0}


cmd = sys.argv[1]
if cmd == "search":
    r = search(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), (sys.argv[6] if len(sys.argv) > 6 else "0.0.0.0").split(","))
elif cmd == "blast":
    r = blast(float(sys.argv[2]))
else:
    r = count(float(sys.argv[2]), sys.argv[3])
print(json.dumps(r), flush=True)
