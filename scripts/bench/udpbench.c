// UDP load for scripts/bench-udp-proxy.sh: fast enough (batched syscalls, one
// thread) that the proxy under test, not the load, is what limits the rate.
//
//   udpbench echo  ADDR PORT                          answer every datagram to its sender
//   udpbench rr    ADDR PORT CLIENTS SECONDS SIZE     CLIENTS sockets, one request in flight
//                                                     each; prints {"rps":..,"lost":..}
//   udpbench sink  ADDR PORT SECONDS                  count what arrives during SECONDS after
//                                                     the first datagram; prints {"mbps":..}
//   udpbench blast ADDR PORT SECONDS SIZE             send as fast as possible
//
// ADDR is an IPv4 or IPv6 literal. Build: cc -O2 -o udpbench udpbench.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXCLIENTS 4096

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static socklen_t resolve(const char *addr, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    return sizeof *a6;
  }
  fprintf(stderr, "udpbench: bad address %s\n", addr);
  exit(2);
}

static int udp_socket(int family, int rcvbuf) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int v = rcvbuf;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v);
  return fd;
}

static int bound(const char *addr, int port) {
  struct sockaddr_storage ss;
  socklen_t len = resolve(addr, port, &ss);
  int fd = udp_socket(ss.ss_family, 8 << 20);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) die("bind");
  return fd;
}

static void wait_in(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  poll(&p, 1, ms);
}

static void echo(const char *addr, int port) __attribute__((noreturn));
static void echo(const char *addr, int port) {
  int fd = bound(addr, port);
  static char bufs[BATCH][2048];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
      msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, msgs, BATCH, 0, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        wait_in(fd, 1000);
        continue;
      }
      die("recvmmsg");
    }
    for (int i = 0; i < n; i++) iov[i].iov_len = msgs[i].msg_len;
    sendmmsg(fd, msgs, n, 0); // a full send queue drops, like any UDP server
  }
}

static int rr(const char *addr, int port, int clients, double seconds, int size) {
  struct sockaddr_storage to;
  socklen_t tolen = resolve(addr, port, &to);
  if (clients < 1 || clients > MAXCLIENTS) clients = 1;
  static int fds[MAXCLIENTS];
  static double sent_at[MAXCLIENTS];
  int ep = epoll_create1(0);
  char buf[2048];
  memset(buf, 'x', sizeof buf);
  if (size > (int)sizeof buf) size = sizeof buf;
  double start = now(), end = start + seconds, warm = start + 0.5;
  long done = 0, lost = 0;
  for (int i = 0; i < clients; i++) {
    fds[i] = udp_socket(to.ss_family, 1 << 20);
    if (connect(fds[i], (struct sockaddr *)&to, tolen) < 0) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
    send(fds[i], buf, size, 0);
    sent_at[i] = now();
  }
  struct epoll_event evs[BATCH];
  double last_check = start, t = start, counted_from = 0;
  while ((t = now()) < end) {
    int n = epoll_wait(ep, evs, BATCH, 50);
    t = now();
    for (int k = 0; k < n; k++) {
      int i = evs[k].data.u32;
      while (recv(fds[i], buf, sizeof buf, 0) > 0) {
        if (t >= warm) {
          if (!counted_from) counted_from = t;
          done++;
        }
      }
      send(fds[i], buf, size, 0);
      sent_at[i] = t;
    }
    if (t - last_check > 0.05) { // a lost request or reply must not stall its client
      last_check = t;
      for (int i = 0; i < clients; i++) {
        if (t - sent_at[i] > 0.2) {
          lost++;
          send(fds[i], buf, size, 0);
          sent_at[i] = t;
        }
      }
    }
  }
  double span = counted_from ? t - counted_from : 0;
  printf("{\"rps\":%.0f,\"lost\":%ld}\n", span > 0 ? done / span : 0, lost);
  return 0;
}

static int sink(const char *addr, int port, double seconds) {
  int fd = bound(addr, port);
  static char bufs[BATCH][2048];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
    msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
  }
  double first = 0, end = 0;
  long long bytes = 0, packets = 0;
  for (;;) {
    double t = now();
    if (first && t >= end) break;
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) die("recvmmsg");
      wait_in(fd, 100);
      if (!first) continue;
      continue;
    }
    if (!first) {
      first = t;
      end = first + seconds;
      continue; // the first batch starts the clock
    }
    for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
    packets += n;
  }
  printf("{\"mbps\":%.0f,\"pps\":%.0f}\n", bytes * 8 / seconds / 1e6, packets / seconds);
  return 0;
}

static int blast(const char *addr, int port, double seconds, int size) {
  struct sockaddr_storage to;
  socklen_t tolen = resolve(addr, port, &to);
  int fd = udp_socket(to.ss_family, 1 << 20);
  if (connect(fd, (struct sockaddr *)&to, tolen) < 0) die("connect");
  static char buf[2048];
  if (size > (int)sizeof buf) size = sizeof buf;
  struct mmsghdr msgs[BATCH];
  struct iovec iov = {buf, size};
  for (int i = 0; i < BATCH; i++) msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
  double end = now() + seconds;
  while (now() < end) {
    if (sendmmsg(fd, msgs, BATCH, 0) < 0) {
      if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED || errno == EINTR) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 10);
        continue;
      }
      die("sendmmsg");
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "echo")) echo(argv[2], atoi(argv[3]));
  if (argc >= 7 && !strcmp(argv[1], "rr")) return rr(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atoi(argv[6]));
  if (argc >= 5 && !strcmp(argv[1], "sink")) return sink(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc >= 6 && !strcmp(argv[1], "blast")) return blast(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: udpbench echo ADDR PORT | rr ADDR PORT CLIENTS SECONDS SIZE | sink ADDR PORT SECONDS | blast ADDR PORT SECONDS SIZE\n");
  return 2;
}
