// UDP load for scripts/dev/bench-udp-proxy.sh: fast enough (batched syscalls, one
// thread) that the proxy under test, not the load, is what limits the rate.
//
//   udpbench echo  ADDR PORT                          answer every datagram to its sender
//   udpbench rr    ADDR PORT CLIENTS SECONDS SIZE     CLIENTS sockets, one request in flight
//                                                     each; prints {"rps":..,"lost":..,"p50us":..}
//   udpbench rrb   ADDR PORT CLIENTS SECONDS SIZE SRC CLIENTS flows from the IPv4 addresses SRC,
//                                                     SRC+1, ... (configured on this host), one
//                                                     socket, one request in flight each: all
//                                                     of them sent and received in batches
//                                                     (sendmmsg/recvmmsg, IP_PKTINFO picks
//                                                     each flow's source), so the load is not
//                                                     the ceiling; prints the same
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
#define MAXSAMPLES (1 << 22)

// Round-trip times for the median: a sample per answered request, up to MAXSAMPLES.
static float samples[MAXSAMPLES];
static long nsamples;
static void sample(double rtt) {
  if (nsamples < MAXSAMPLES) samples[nsamples++] = (float)(rtt * 1e6);
}
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}
static double p50(void) {
  if (!nsamples) return 0;
  qsort(samples, nsamples, sizeof samples[0], cmpf);
  return samples[nsamples / 2];
}

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
          sample(t - sent_at[i]);
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
  printf("{\"rps\":%.0f,\"lost\":%ld,\"p50us\":%.1f}\n", span > 0 ? done / span : 0, lost, p50());
  return 0;
}

static int rrb(const char *addr, int port, int clients, double seconds, int size, const char *src) {
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  struct in_addr base;
  if (inet_pton(AF_INET, addr, &to.sin_addr) != 1 || inet_pton(AF_INET, src, &base) != 1) {
    fprintf(stderr, "udpbench: rrb takes IPv4 addresses\n");
    exit(2);
  }
  if (clients < 1 || clients > BATCH) clients = BATCH;
  int fd = udp_socket(AF_INET, 8 << 20);
  int one = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0) die("IP_PKTINFO");
  struct sockaddr_in any = {.sin_family = AF_INET};
  if (bind(fd, (struct sockaddr *)&any, sizeof any) < 0) die("bind");
  static char bufs[BATCH][2048];
  static char cbuf[BATCH][CMSG_SPACE(sizeof(struct in_pktinfo))];
  struct mmsghdr out[BATCH], in[BATCH];
  struct iovec oiov[BATCH], iiov[BATCH];
  static double sent_at[BATCH];
  static int queued[BATCH];
  if (size > 2048) size = 2048;
  memset(bufs, 'x', sizeof bufs);
  // Request i (at most one in flight per client) leaves from base + i.
  int nq = 0;
  for (int i = 0; i < clients; i++) queued[nq++] = i;
  double start = now(), end = start + seconds, warm = start + 0.5, t = start, counted_from = 0, last_check = start;
  long done = 0, lost = 0;
  while ((t = now()) < end) {
    if (nq) {
      for (int k = 0; k < nq; k++) {
        int i = queued[k];
        oiov[k] = (struct iovec){bufs[i], size};
        memset(cbuf[k], 0, sizeof cbuf[k]);
        out[k].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &oiov[k], .msg_iovlen = 1, .msg_control = cbuf[k], .msg_controllen = sizeof cbuf[k]};
        struct cmsghdr *c = CMSG_FIRSTHDR(&out[k].msg_hdr);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
        pi->ipi_spec_dst.s_addr = htonl(ntohl(base.s_addr) + i);
        sent_at[i] = t;
      }
      int sent = 0;
      while (sent < nq) {
        int r = sendmmsg(fd, out + sent, nq - sent, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          break; // a full queue: the rest count as lost and are sent again below
        }
        sent += r;
      }
      nq = 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 50);
    t = now();
    for (int k = 0; k < BATCH; k++) {
      iiov[k] = (struct iovec){bufs[k], 2048};
      in[k].msg_hdr = (struct msghdr){.msg_iov = &iiov[k], .msg_iovlen = 1, .msg_control = cbuf[k], .msg_controllen = sizeof cbuf[k]};
    }
    int n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
    for (int k = 0; k < n; k++) {
      struct cmsghdr *c = CMSG_FIRSTHDR(&in[k].msg_hdr);
      if (!c || c->cmsg_type != IP_PKTINFO) continue;
      int i = (int)(ntohl(((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr.s_addr) - ntohl(base.s_addr));
      if (i < 0 || i >= clients) continue;
      if (t >= warm) {
        if (!counted_from) counted_from = t;
        done++;
        sample(t - sent_at[i]);
      }
      queued[nq++] = i;
    }
    if (t - last_check > 0.05) { // a lost request or reply must not stall its client
      last_check = t;
      for (int i = 0; i < clients; i++) {
        int waiting = 1;
        for (int k = 0; k < nq; k++) if (queued[k] == i) waiting = 0;
        if (waiting && t - sent_at[i] > 0.2) {
          lost++;
          queued[nq++] = i;
        }
      }
    }
  }
  double span = counted_from ? t - counted_from : 0;
  printf("{\"rps\":%.0f,\"lost\":%ld,\"p50us\":%.1f}\n", span > 0 ? done / span : 0, lost, p50());
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
  if (argc >= 8 && !strcmp(argv[1], "rrb")) return rrb(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atoi(argv[6]), argv[7]);
  if (argc >= 7 && !strcmp(argv[1], "rr")) return rr(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), atoi(argv[6]));
  if (argc >= 5 && !strcmp(argv[1], "sink")) return sink(argv[2], atoi(argv[3]), atof(argv[4]));
  if (argc >= 6 && !strcmp(argv[1], "blast")) return blast(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: udpbench echo ADDR PORT | rr ADDR PORT CLIENTS SECONDS SIZE | rrb ADDR PORT CLIENTS SECONDS SIZE SRC | sink ADDR PORT SECONDS | blast ADDR PORT SECONDS SIZE\n");
  return 2;
}
