/*
 * fixed-rate: a wrk2-style open-loop HTTP/1.1 load generator in C, for checking the Node open-loop generator
 * (harness/open-loop.ts) with a client that takes little of the machine. harness/fixed-rate.ts compiles it with
 * gcc on first use (Debian's wrk 4 has no -R; wrk2 is not packaged).
 *
 * Arrival i is due at start + i/rate (nanoseconds, CLOCK_MONOTONIC) whatever the system does; a timerfd wakes the
 * loop at the next due time (no fixed tick). A due arrival goes out on an idle keep-alive connection, else on a
 * new one while fewer than `connections` are open, else it waits in a FIFO for the next free connection (the
 * same pool model as undici's Pool). Latency is counted from the intended time ("corrected", no coordinated
 * omission) and from the actual write ("service"). Arrivals due in the first `discard` seconds are sent but not
 * recorded. One thread, epoll, no pipelining. Prints one JSON line on stdout.
 *
 * With FIXED_RATE_TIMELINE=<file> in the environment it also writes one line per recorded request, in the order
 * they completed: the due time (ms from the start), the latency from it, the latency from the actual write, the
 * connection slot and 1 when the request had to open that connection. load-tests/timeline.ts reads it (when in a
 * run the tail happened, and whether new connections were part of it).
 *
 * usage: fixed-rate HOST PORT RATE DURATION_S DISCARD_S CONNECTIONS METHOD PATH [BODY] [CONTENT_TYPE]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

typedef struct {
  int fd;
  int open;        /* socket exists */
  int connected;   /* connect finished */
  long req;        /* arrival index in flight, -1 when idle */
  size_t wrote;    /* bytes of the request written */
  char buf[BUF];
  size_t len;      /* bytes buffered of the current response */
  uint32_t armed;  /* the epoll events registered now (a change costs a syscall, so only changes are made) */
} conn_t;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *sorted, long n, double p) {
  if (n == 0) return 0;
  long i = (long)(p * (double)n + 0.999999) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return sorted[i];
}

static struct sockaddr_in addr;
static char *request;
static size_t request_len;
static int ep;
static conn_t *conns;
static int nconns, open_conns;
static double start, *intended, *sent_at;
static double *corrected, *service;
static long *recorded_as; /* the arrival index of each recorded request, in the order recorded */
static int *slot_of;       /* per arrival: the connection slot it went out on */
static char *fresh_of;     /* per arrival: it opened that connection */
static long *per_second, nseconds;
static long ncorrected, errors, non2xx;
static double discard_ns;
static long *queue; /* FIFO of arrival indexes waiting for a connection */
static long qhead, qtail;
static long settled, total;
static long *idle; /* stack of idle connected connection slots */
static int nidle;

static void arm(conn_t *c, uint32_t events) {
  if (c->armed == events) return;
  c->armed = events;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void close_conn(conn_t *c) {
  if (!c->open) return;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->open = 0;
  c->connected = 0;
  open_conns--;
  for (int i = 0; i < nidle; i++)
    if (&conns[idle[i]] == c) { idle[i] = idle[--nidle]; break; }
}

static int open_conn(conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  c->armed = EPOLLOUT;
  c->open = 1;
  c->connected = 0;
  c->req = -1;
  c->len = 0;
  open_conns++;
  return 0;
}

static void settle(long i, int status, double t) {
  settled++;
  if (intended[i] - start < discard_ns) return;
  if (status == 0) { errors++; return; }
  if (status < 200 || status >= 300) non2xx++;
  long sec = (long)((t - start - discard_ns) / 1e9);
  if (sec >= 0 && sec < nseconds) per_second[sec]++;
  recorded_as[ncorrected] = i;
  corrected[ncorrected] = (t - intended[i]) / 1e6;
  service[ncorrected] = (t - sent_at[i]) / 1e6;
  ncorrected++;
}

static void try_write(conn_t *c) {
  while (c->wrote < request_len) {
    ssize_t w = write(c->fd, request + c->wrote, request_len - c->wrote);
    if (w < 0) {
      if (errno == EAGAIN) { arm(c, EPOLLIN | EPOLLOUT); return; }
      settle(c->req, 0, now_ns());
      c->req = -1;
      close_conn(c);
      return;
    }
    c->wrote += (size_t)w;
  }
  arm(c, EPOLLIN);
}

static void assign(conn_t *c, long i) {
  c->req = i;
  c->wrote = 0;
  c->len = 0;
  sent_at[i] = now_ns();
  slot_of[i] = (int)(c - conns);
  fresh_of[i] = !c->connected;
  if (c->connected) try_write(c);
}

/* A due (or queued) arrival: an idle connection, else a new one, else the queue. */
static void dispatch(long i) {
  if (nidle > 0) { assign(&conns[idle[--nidle]], i); return; }
  if (open_conns < nconns) {
    for (int k = 0; k < nconns; k++) {
      if (!conns[k].open) {
        if (open_conn(&conns[k]) == 0) { assign(&conns[k], i); return; }
        settle(i, 0, now_ns());
        return;
      }
    }
  }
  queue[qtail++] = i;
}

static void became_idle(conn_t *c) {
  c->req = -1;
  c->len = 0;
  if (qhead < qtail) { assign(c, queue[qhead++]); return; }
  idle[nidle++] = c - conns;
  arm(c, EPOLLIN);
}

/* Returns the length of a complete response in c->buf (0 when incomplete); sets *status and *close_after. */
static size_t complete(conn_t *c, int *status, int *close_after) {
  c->buf[c->len] = 0;
  char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - c->buf) + 4;
  *status = atoi(c->buf + 9);
  *close_after = 0;
  long clen = -1;
  int chunked = 0;
  for (char *line = strstr(c->buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
    if (strncasecmp(line, "content-length:", 15) == 0) clen = atol(line + 15);
    else if (strncasecmp(line, "transfer-encoding:", 18) == 0 && strcasestr(line, "chunked") < strstr(line, "\r\n")) chunked = 1;
    else if (strncasecmp(line, "connection:", 11) == 0 && strcasestr(line, "close") && strcasestr(line, "close") < strstr(line, "\r\n")) *close_after = 1;
  }
  if (chunked) {
    size_t p = head;
    for (;;) {
      char *crlf = memmem(c->buf + p, c->len - p, "\r\n", 2);
      if (!crlf) return 0;
      long size = strtol(c->buf + p, NULL, 16);
      size_t data = (size_t)(crlf - c->buf) + 2;
      if (size == 0) {
        char *fin = memmem(c->buf + data - 2, c->len - (data - 2), "\r\n\r\n", 4);
        return fin ? (size_t)(fin - c->buf) + 4 : 0;
      }
      if (data + (size_t)size + 2 > c->len) return 0;
      p = data + (size_t)size + 2;
    }
  }
  if (clen < 0) clen = 0;
  return head + (size_t)clen <= c->len ? head + (size_t)clen : 0;
}

static void on_readable(conn_t *c) {
  for (;;) {
    if (c->len >= BUF - 1) { /* response larger than the buffer: not what this tool is for */
      if (c->req >= 0) settle(c->req, 0, now_ns());
      c->req = -1;
      close_conn(c);
      return;
    }
    ssize_t r = read(c->fd, c->buf + c->len, BUF - 1 - c->len);
    if (r > 0) {
      c->len += (size_t)r;
      int status, close_after;
      size_t n = c->req >= 0 ? complete(c, &status, &close_after) : 0;
      if (n > 0) {
        settle(c->req, status, now_ns());
        if (close_after) { c->req = -1; close_conn(c); return; }
        became_idle(c);
        return;
      }
      continue;
    }
    if (r < 0 && errno == EAGAIN) return;
    /* closed or failed: the request in flight (if any) is an error; an idle close just drops the slot */
    if (c->req >= 0) settle(c->req, 0, now_ns());
    c->req = -1;
    close_conn(c);
    return;
  }
}

int main(int argc, char **argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: fixed-rate HOST PORT RATE DURATION_S DISCARD_S CONNECTIONS METHOD PATH [BODY] [CONTENT_TYPE] [HEADER_LINES]\n");
    return 2;
  }
  double rate = atof(argv[3]), duration = atof(argv[4]), discard = atof(argv[5]);
  nconns = atoi(argv[6]);
  if (!(rate > 0) || !(duration > 0) || discard < 0 || nconns < 1) {
    fprintf(stderr, "fixed-rate: RATE and DURATION_S must be positive, DISCARD_S >= 0, CONNECTIONS >= 1\n");
    return 2;
  }
  const char *body = argc > 9 ? argv[9] : "";
  const char *ctype = argc > 10 ? argv[10] : "application/json";
  /* More header lines, each "Name: value\r\n", sent after Content-Type (e.g. Authorization). */
  const char *extra = argc > 11 ? argv[11] : "";
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) { fprintf(stderr, "fixed-rate: HOST must be an IPv4 address\n"); return 2; }
  size_t cap = strlen(body) + strlen(argv[8]) + strlen(extra) + 512;
  request = malloc(cap);
  if (argc > 9)
    request_len = (size_t)snprintf(request, cap, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n\r\n%s", argv[7], argv[8], argv[1], argv[2], ctype, extra, strlen(body), body);
  else
    request_len = (size_t)snprintf(request, cap, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", argv[7], argv[8], argv[1], argv[2]);

  total = (long)(rate * (duration + discard) + 0.5);
  discard_ns = discard * 1e9;
  intended = calloc((size_t)total, sizeof(double));
  sent_at = calloc((size_t)total, sizeof(double));
  corrected = calloc((size_t)total, sizeof(double));
  service = calloc((size_t)total, sizeof(double));
  recorded_as = calloc((size_t)total, sizeof(long));
  slot_of = calloc((size_t)total, sizeof(int));
  fresh_of = calloc((size_t)total, 1);
  queue = calloc((size_t)total, sizeof(long));
  idle = calloc((size_t)nconns, sizeof(long));
  conns = calloc((size_t)nconns, sizeof(conn_t));
  nseconds = (long)(duration + 0.999999);
  per_second = calloc((size_t)nseconds, sizeof(long));
  ep = epoll_create1(0);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

  start = now_ns();
  double interval = 1e9 / rate;
  for (long i = 0; i < total; i++) intended[i] = start + (double)i * interval;
  long next = 0;
  double timer_at = 0;
  struct epoll_event evs[256];
  while (settled < total) {
    double now = now_ns();
    while (next < total && intended[next] <= now) dispatch(next++);
    if (next < total && intended[next] != timer_at) {
      struct itimerspec its = {0};
      double at = intended[next];
      timer_at = at;
      /* rounded up: a timer that fired a fraction of a ns early would find nothing due and never be re-armed */
      its.it_value.tv_sec = (time_t)(at / 1e9);
      its.it_value.tv_nsec = (long)ceil(at - (double)its.it_value.tv_sec * 1e9);
      if (its.it_value.tv_nsec >= 1000000000L) { its.it_value.tv_sec += 1; its.it_value.tv_nsec -= 1000000000L; }
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
      timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
    }
    int n = epoll_wait(ep, evs, 256, next < total ? -1 : 1000);
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c == NULL) { uint64_t x; ssize_t r = read(tfd, &x, sizeof x); (void)r; timer_at = 0; continue; }
      if (!c->open) continue;
      if (!c->connected) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err != 0) { if (c->req >= 0) settle(c->req, 0, now_ns()); c->req = -1; close_conn(c); continue; }
        c->connected = 1;
        if (c->req >= 0) try_write(c);
        else became_idle(c);
        continue;
      }
      if (evs[k].events & EPOLLOUT && c->req >= 0 && c->wrote < request_len) try_write(c);
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    /* connections closed by the server leave slots free for queued arrivals */
    while (qhead < qtail && open_conns < nconns) { long i = queue[qhead++]; dispatch(i); }
  }
  double elapsed_s = (now_ns() - (start + discard_ns)) / 1e9;
  const char *timeline = getenv("FIXED_RATE_TIMELINE");
  if (timeline != NULL && timeline[0] != 0) {
    FILE *f = fopen(timeline, "w");
    if (f == NULL) { fprintf(stderr, "fixed-rate: cannot write FIXED_RATE_TIMELINE %s\n", timeline); return 1; }
    fprintf(f, "# due_ms latency_ms service_ms connection new_connection\n");
    for (long k = 0; k < ncorrected; k++) {
      long i = recorded_as[k];
      fprintf(f, "%.3f %.3f %.3f %d %d\n", (intended[i] - start) / 1e6, corrected[k], service[k], slot_of[i], fresh_of[i]);
    }
    if (fclose(f) != 0) { fprintf(stderr, "fixed-rate: cannot write FIXED_RATE_TIMELINE %s\n", timeline); return 1; }
  }
  qsort(corrected, (size_t)ncorrected, sizeof(double), cmp);
  qsort(service, (size_t)ncorrected, sizeof(double), cmp);
  printf("{\"completed\":%ld,\"errors\":%ld,\"non2xx\":%ld,\"elapsedS\":%.4f,\"throughput\":%.2f,"
         "\"latency\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"max\":%.4f},"
         "\"serviceLatency\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"max\":%.4f},\"perSecond\":[",
         ncorrected, errors, non2xx, elapsed_s, (double)ncorrected / elapsed_s,
         pct(corrected, ncorrected, 0.5), pct(corrected, ncorrected, 0.9), pct(corrected, ncorrected, 0.99), pct(corrected, ncorrected, 1),
         pct(service, ncorrected, 0.5), pct(service, ncorrected, 0.9), pct(service, ncorrected, 0.99), pct(service, ncorrected, 1));
  for (long k = 0; k < nseconds; k++) printf(k == 0 ? "%ld" : ",%ld", per_second[k]);
  printf("]}\n");
  return 0;
}
