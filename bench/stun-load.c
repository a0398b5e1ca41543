// STUN load generator for npm run bench:server (compiled with gcc at bench time; loopback or a lab namespace only).
//   stun-load flood   SRC_IP DST_IP PORT SECONDS MAX_PACKETS WINDOW   closed loop: WINDOW requests in flight
//   stun-load latency SRC_IP DST_IP PORT SECONDS INTERVAL_US          one request every INTERVAL_US, RTT percentiles
//   stun-load crafted SRC_IP DST_IP PORT SECONDS PER_SECOND           hostile shapes, answers ignored
// Prints one JSON line. Bounded by SECONDS and MAX_PACKETS.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static uint32_t rng = 2463534242u;
static uint32_t xr(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

static int open_socket(const char *src, const char *dst, int port, struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = 0};
  inet_pton(AF_INET, src, &me.sin_addr);
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); exit(4); }
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  memset(to, 0, sizeof *to);
  to->sin_family = AF_INET;
  to->sin_port = htons(port);
  inet_pton(AF_INET, dst, &to->sin_addr);
  return fd;
}

// A 20-byte Binding request with the magic cookie; the transaction ID carries a sequence number and a send time.
static void request(uint8_t *b, uint64_t seq, double sent) {
  memset(b, 0, 20);
  b[1] = 1;
  b[4] = 0x21; b[5] = 0x12; b[6] = 0xa4; b[7] = 0x42;
  memcpy(b + 8, &seq, 4);
  uint64_t us = (uint64_t)(sent * 1e6);
  memcpy(b + 12, &us, 8);
}

static double cpu_s(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6; }

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static int flood(int fd, struct sockaddr_in *to, double seconds, long max, int window) {
  uint8_t out[20], in[2048];
  long sent = 0, received = 0;
  double start = now_s(), last_progress = start, end = start + seconds;
  for (int i = 0; i < window && sent < max; i++) { request(out, sent++, 0); sendto(fd, out, 20, 0, (struct sockaddr *)to, sizeof *to); }
  while (now_s() < end && received < max) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 5);
    ssize_t n;
    int got = 0;
    while ((n = recv(fd, in, sizeof in, 0)) > 0) {
      if (n >= 20 && in[0] == 1 && in[1] == 1) { received++; got++; }
      if (sent < max) { request(out, sent++, 0); sendto(fd, out, 20, 0, (struct sockaddr *)to, sizeof *to); }
    }
    double t = now_s();
    if (got) last_progress = t;
    else if (t - last_progress > 0.05) {  // lost packets: refill the window
      for (int i = 0; i < window && sent < max; i++) { request(out, sent++, 0); sendto(fd, out, 20, 0, (struct sockaddr *)to, sizeof *to); }
      last_progress = t;
    }
  }
  double elapsed = now_s() - start;
  printf("{\"mode\":\"flood\",\"sent\":%ld,\"received\":%ld,\"seconds\":%.3f,\"perSecond\":%.0f,\"generatorCpuSeconds\":%.3f}\n", sent, received, elapsed, received / elapsed, cpu_s());
  return 0;
}

static int latency(int fd, struct sockaddr_in *to, double seconds, long interval_us) {
  uint8_t out[20], in[2048];
  long count = (long)(seconds * 1e6 / interval_us) + 1, sent = 0, received = 0;
  double *rtt = calloc(count, sizeof(double));
  double start = now_s(), next = start, end = start + seconds;
  while (now_s() < end + 0.2) {
    double t = now_s();
    if (t >= next && t < end && sent < count) { request(out, sent, t); sendto(fd, out, 20, 0, (struct sockaddr *)to, sizeof *to); sent++; next += interval_us / 1e6; }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 1);
    ssize_t n;
    while ((n = recv(fd, in, sizeof in, 0)) > 0) {
      if (n < 20 || in[1] != 1) continue;
      uint64_t us; memcpy(&us, in + 12, 8);
      if (received < count) rtt[received++] = now_s() * 1e6 - (double)us;
    }
  }
  qsort(rtt, received, sizeof(double), cmp);
  double p50 = received ? rtt[received / 2] : -1, p99 = received ? rtt[(long)(received * 0.99) < received ? (long)(received * 0.99) : received - 1] : -1;
  printf("{\"mode\":\"latency\",\"sent\":%ld,\"received\":%ld,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f}\n", sent, received, p50 / 1000, p99 / 1000, received ? rtt[received - 1] / 1000 : -1);
  return 0;
}

// Shapes from issue 10: many attributes, maximum size, maximum padding, bad lengths, unknown required attributes.
static size_t crafted(uint8_t *b, int shape) {
  request(b, xr(), 0);
  size_t at = 20;
  switch (shape % 6) {
    case 0:  // 350 small unknown optional attributes
      for (int i = 0; i < 350; i++) { b[at] = 0x80 | (xr() & 0x7f); b[at + 1] = xr(); b[at + 2] = 0; b[at + 3] = 0; at += 4; }
      break;
    case 1:  // maximum size: one SOFTWARE of 1448 bytes
      b[at] = 0x80; b[at + 1] = 0x22; b[at + 2] = 1448 >> 8; b[at + 3] = 1448 & 0xff;
      for (int i = 0; i < 1448; i++) b[at + 4 + i] = 'a' + i % 26;
      at += 4 + 1448;
      break;
    case 2:  // maximum padding
      b[at] = 0x00; b[at + 1] = 0x26; b[at + 2] = 1448 >> 8; b[at + 3] = 1448 & 0xff;
      memset(b + at + 4, 0, 1448);
      at += 4 + 1448;
      break;
    case 3:  // bad lengths: an attribute that overruns the message
      for (int i = 0; i < 100; i++) { b[at] = 0x00; b[at + 1] = 0x01; b[at + 2] = 0; b[at + 3] = 8; memset(b + at + 4, xr(), 8); at += 12; }
      b[at - 10] = 0xff;
      break;
    case 4:  // many address attributes with garbage values (what a general decoder parses)
      for (int i = 0; i < 110; i++) { b[at] = 0x00; b[at + 1] = i & 1 ? 0x20 : 0x01; b[at + 2] = 0; b[at + 3] = 8; for (int j = 0; j < 8; j++) b[at + 4 + j] = xr(); at += 12; }
      break;
    default:  // unknown comprehension-required attributes (an error answer)
      for (int i = 0; i < 300; i++) { b[at] = 0x7f; b[at + 1] = xr(); b[at + 2] = 0; b[at + 3] = 0; at += 4; }
  }
  b[2] = (at - 20) >> 8;
  b[3] = (at - 20) & 0xff;
  return at;
}

static int craft(int fd, struct sockaddr_in *to, double seconds, int per_second) {
  uint8_t out[1500], in[2048];
  long sent = 0;
  double start = now_s(), next = start, end = start + seconds;
  while (now_s() < end) {
    if (now_s() >= next) { size_t n = crafted(out, sent); sendto(fd, out, n, 0, (struct sockaddr *)to, sizeof *to); sent++; next += 1.0 / per_second; }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 1);
    while (recv(fd, in, sizeof in, 0) > 0) {}
  }
  printf("{\"mode\":\"crafted\",\"sent\":%ld}\n", sent);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage: see the comment at the top of stun-load.c\n"); return 2; }
  struct sockaddr_in to;
  int fd = open_socket(argv[2], argv[3], atoi(argv[4]), &to);
  double seconds = atof(argv[5]);
  if (seconds <= 0 || seconds > 120) { fprintf(stderr, "SECONDS must be in (0, 120]\n"); return 2; }
  if (!strcmp(argv[1], "flood") && argc >= 8) return flood(fd, &to, seconds, atol(argv[6]), atoi(argv[7]));
  if (!strcmp(argv[1], "latency")) return latency(fd, &to, seconds, atol(argv[6]));
  if (!strcmp(argv[1], "crafted")) return craft(fd, &to, seconds, atoi(argv[6]));
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
