#!/usr/bin/env python3
"""Measuring tool for the mDNS rows of scripts/dev/bench-ssdp-proxy.sh; prints one JSON object.

  mdnsbench.py browse ROUNDS CLIENTS TIMEOUT   rounds of CLIENTS concurrent browsers, each
                                               asking (from port 5353, as a full mDNS
                                               querier) for the SRV record of its own
                                               service "Bench N._ipp._tcp.local"; success
                                               and every time to the first answer (ms)
  mdnsbench.py summary FILE...                 success and median of several browse runs

SRV records are unique, so a responder answers them at once (RFC 6762 s6) and the time
measured is the network's and the relay's, not a responder's random delay. A responder
multicasts a record at most once a second or so (RFC 6762 s6; avahi: 500 ms), so rounds
are 0.6 s apart.
"""
import json, socket, statistics, struct, sys, threading, time

GROUP = ("224.0.0.251", 5353)


def query(name):
    q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return q + struct.pack(">HH", 33, 1)  # SRV, IN, no QU bit


def socket5353():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(GROUP[0]) + socket.inet_aton("0.0.0.0"))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    return s


def one(n, timeout, out, ready):
    s = socket5353()
    label = f"Bench {n}".encode()
    want = bytes([len(label)]) + label
    ready.wait()  # every browser listens before any asks
    t0 = time.perf_counter()
    s.sendto(query(f"Bench {n}._ipp._tcp.local"), GROUP)
    end = t0 + timeout
    out[n - 1] = None
    while True:
        left = end - time.perf_counter()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, _ = s.recvfrom(9000)
        except socket.timeout:
            break
        # a response (QR set) whose records are for our instance
        if len(data) > 12 and data[2] & 0x80 and want in data:
            out[n - 1] = (time.perf_counter() - t0) * 1000
            break
    s.close()


def browse(rounds, clients, timeout):
    times, ok, total = [], 0, 0
    for _ in range(rounds):
        out = [None] * clients
        ready = threading.Barrier(clients)
        th = [threading.Thread(target=one, args=(i + 1, timeout, out, ready)) for i in range(clients)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        total += clients
        ok += sum(v is not None for v in out)
        times += [v for v in out if v is not None]
        time.sleep(0.6)
    return {"ok": ok, "total": total, "times": [round(t, 3) for t in times]}


def summary(files):
    runs = [json.load(open(f)) for f in files]
    ok, total = sum(r["ok"] for r in runs), sum(r["total"] for r in runs)
    times = [t for r in runs for t in r["times"]]
    return {"ok": ok, "total": total, "success_pct": round(100.0 * ok / total, 1) if total else 0,
            "median_ms": round(statistics.median(times), 2) if times else None,
            "medians_ms": [round(statistics.median(r["times"]), 2) if r["times"] else None for r in runs]}


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "browse":
        print(json.dumps(browse(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))))
    elif cmd == "summary":
        print(json.dumps(summary(sys.argv[2:])))
    else:
        sys.exit(__doc__)
