#!/usr/bin/env python3
# test/e2e/udp-flood.py - hostile UDP load for the flood tests, bounded in count:
#   ports  SRC ADDR PORT COUNT       COUNT datagrams, each from a source port of its own
#   big    SRC ADDR PORT COUNT SIZE  COUNT datagrams of SIZE bytes from one socket
#   random SRC ADDR PORT COUNT       COUNT datagrams of random sizes (0..1500) and bytes
# Prints "sent N".
import os, random, socket, sys, time

def sock(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((src, 0))
    return s

def send(s, data, to):
    while True:
        try:
            return s.sendto(data, to)
        except (BlockingIOError, OSError):
            time.sleep(0.001)

mode, src, addr, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
to = (addr, port)
sent = 0
if mode == "ports":
    # 500 sockets at a time: each keeps its own port until closed.
    while sent < count:
        group = [sock(src) for _ in range(min(500, count - sent))]
        for s in group:
            send(s, b"flood-%d" % sent, to)
            sent += 1
        for s in group:
            s.close()
elif mode == "big":
    s, data = sock(src), os.urandom(int(sys.argv[6]))
    for _ in range(count):
        send(s, data, to)
        sent += 1
        if sent % 50 == 0:
            time.sleep(0.005)  # let the receiver keep up a little; the point is the size
elif mode == "random":
    s = sock(src)
    for _ in range(count):
        send(s, os.urandom(random.randint(0, 1500)), to)
        sent += 1
print("sent", sent)
