// Loopback TCP round trips: client sends REQ bytes, server answers RESP bytes.
//   rtt server PORT            (C server)
//   rtt client PORT N          (C client: prints mean and p99 round trip in us)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#define REQ 72
#define RESP (4096 + 24 + 8)
static void full(int fd, char *b, int n) { int got = 0; while (got < n) { int r = read(fd, b + got, n - got); if (r <= 0) exit(1); got += r; } }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  int port = atoi(argv[2]), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  static char buf[RESP];
  if (!strcmp(argv[1], "server")) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (void *)&a, sizeof a) || listen(l, 4)) { perror("bind"); return 1; }
    printf("listening\n"); fflush(stdout);
    int c = accept(l, 0, 0);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (;;) { int got = 0; while (got < REQ) { int r = read(c, buf + got, REQ - got); if (r <= 0) return 0; got += r; } if (write(c, buf, RESP) != RESP) return 1; }
  }
  int n = atoi(argv[3]);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, (void *)&a, sizeof a)) { perror("connect"); return 1; }
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double *t = malloc(sizeof(double) * n), sum = 0;
  for (int i = 0; i < n + 200; i++) {
    double t0 = now();
    if (write(c, buf, REQ) != REQ) return 1;
    full(c, buf, RESP);
    if (i >= 200) { t[i - 200] = now() - t0; sum += t[i - 200]; }
  }
  qsort(t, n, sizeof(double), cmp);
  printf("{\"meanUs\":%.1f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"n\":%d}\n", sum / n, t[n / 2], t[n * 99 / 100], n);
  return 0;
}
