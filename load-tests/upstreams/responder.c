/*
 * responder: the benchmark's upstream written in C, for the runs where the upstream should take as little of the
 * machine as it can (`--upstream c`, upstreams/upstream-pair.ts compiles it with gcc on first use). It answers
 * like upstreams/json-responder.ts does for a plain request: any method and path, after reading the whole request
 * body (Content-Length or chunked), a 200 with the same small JSON body; `GET /__stats` answers this instance's
 * counters as JSON and is not counted. It has none of the Node responder's knobs: a request whose query names
 * `delay_ms` or `reset` gets a 400 saying so, so a scenario that needs them cannot run on it by mistake.
 *
 * HTTP/1.1 keep-alive (HTTP/1.0 closes unless it asks for keep-alive; `Connection: close` closes after the
 * answer), pipelined requests answered in order, one thread, level-triggered epoll. Bounds: a request head of at
 * most 16 KiB (431 and close past it), at most 16,384 open connections (past it a new one is closed at once), an
 * answer buffer per connection of at most 1 MiB of unsent bytes (the connection is closed if a client stops
 * reading while it pipelines). Malformed input gets a 400 and the connection is closed.
 *
 * usage: responder NAME [PORT]; prints `LISTENING <port>` when ready and exits when its stdin closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define OUT_MAX (1 << 20)
#define MAX_FD 16384
#define READ_CHUNK 65536

static const char BODY[] = "{\"predictions\":[[0.1,0.9]],\"model\":\"bench\"}";

enum state { HEAD, BODY_LEN, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILER };

typedef struct {
  int fd;
  enum state st;
  char head[HEAD_MAX];
  size_t head_len;
  unsigned long long remaining; /* body bytes left (BODY_LEN, CHUNK_DATA) or CRLF bytes left (CHUNK_DATA_END) */
  char line[256];               /* a chunk-size or trailer line */
  size_t line_len;
  int close_after;   /* this request asked for the connection to close */
  int http10;        /* this request is HTTP/1.0 (its keep-alive must be said in the answer) */
  int is_stats;      /* this request is GET /__stats */
  int bad_knob;      /* this request named a Node responder knob */
  char *out;
  size_t out_len, out_cap, out_sent;
  int want_out;      /* EPOLLOUT registered */
  int closing;       /* close once `out` is sent */
} conn_t;

static const char *name = "upstream";
static unsigned long long requests;
static long open_connections;
static conn_t *conns[MAX_FD];
static int ep;

static void drop(conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  conns[c->fd] = NULL;
  free(c->out);
  free(c);
  open_connections -= 1;
}

static int append(conn_t *c, const char *data, size_t n) {
  if (c->out_len - c->out_sent + n > OUT_MAX) return -1;
  if (c->out_sent > 0 && c->out_sent == c->out_len) c->out_sent = c->out_len = 0;
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap == 0 ? 4096 : c->out_cap;
    while (cap < c->out_len + n) cap *= 2;
    char *grown = realloc(c->out, cap);
    if (grown == NULL) return -1;
    c->out = grown;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, n);
  c->out_len += n;
  return 0;
}

static int respond(conn_t *c, int status, const char *reason, const char *body, int close_it) {
  char head[256];
  size_t len = strlen(body);
  const char *connection = close_it ? "connection: close\r\n" : c->http10 ? "connection: keep-alive\r\n" : "";
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n%s\r\n", status,
                   reason, len, connection);
  if (append(c, head, (size_t)n) < 0 || append(c, body, len) < 0) return -1;
  if (close_it) c->closing = 1;
  return 0;
}

/* a header's value if `line` (one header line, no CRLF) is `field: value`; NULL otherwise */
static const char *header_value(const char *line, size_t len, const char *field) {
  size_t f = strlen(field);
  if (len <= f || strncasecmp(line, field, f) != 0 || line[f] != ':') return NULL;
  const char *v = line + f + 1;
  while (*v == ' ' || *v == '\t') v++;
  return v;
}

static int contains_token(const char *v, const char *token) {
  size_t t = strlen(token);
  for (const char *p = v; *p != '\0' && *p != '\r'; p++) {
    if (strncasecmp(p, token, t) == 0) return 1;
  }
  return 0;
}

/* reads the head in c->head (NUL-terminated, ends with CRLFCRLF); returns -1 when malformed */
static int parse_head(conn_t *c) {
  char *line_end = strstr(c->head, "\r\n");
  if (line_end == NULL) return -1;
  *line_end = '\0';
  char *sp1 = strchr(c->head, ' ');
  char *sp2 = sp1 == NULL ? NULL : strchr(sp1 + 1, ' ');
  if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) return -1;
  int http10 = c->http10 = sp2[8] == '0';
  *sp2 = '\0';
  const char *target = sp1 + 1;
  c->is_stats = strncmp(c->head, "GET ", 4) == 0 && strcmp(target, "/__stats") == 0;
  const char *query = strchr(target, '?');
  c->bad_knob = query != NULL && (strstr(query, "delay_ms=") != NULL || strstr(query, "reset=") != NULL);
  int keep_alive = !http10, chunked = 0, have_length = 0;
  unsigned long long length = 0;
  for (char *p = line_end + 2; *p != '\0' && !(p[0] == '\r' && p[1] == '\n');) {
    char *e = strstr(p, "\r\n");
    if (e == NULL) return -1;
    size_t n = (size_t)(e - p);
    const char *v;
    if ((v = header_value(p, n, "content-length")) != NULL) {
      char *end;
      errno = 0;
      length = strtoull(v, &end, 10);
      if (errno != 0 || end == v || (end != e && *end != ' ' && *end != '\t')) return -1;
      have_length = 1;
    } else if ((v = header_value(p, n, "transfer-encoding")) != NULL) {
      if (contains_token(v, "chunked")) chunked = 1;
    } else if ((v = header_value(p, n, "connection")) != NULL) {
      if (contains_token(v, "close")) keep_alive = 0;
      else if (contains_token(v, "keep-alive")) keep_alive = 1;
    }
    p = e + 2;
  }
  if (chunked && have_length) return -1;
  c->close_after = !keep_alive;
  if (chunked) {
    c->st = CHUNK_SIZE;
    c->line_len = 0;
  } else {
    c->st = BODY_LEN;
    c->remaining = length;
  }
  return 0;
}

static int finish_request(conn_t *c) {
  c->st = HEAD;
  c->head_len = 0;
  if (c->bad_knob)
    return respond(c, 400, "Bad Request",
                   "{\"error\":\"the C responder has no delay_ms or reset knob; run this scenario with the Node upstream\"}",
                   1);
  if (c->is_stats) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"requests\":%llu,\"cancelled\":0,\"delayedAnswered\":0,\"openConnections\":%ld}", name,
             requests, open_connections);
    return respond(c, 200, "OK", body, c->close_after);
  }
  requests += 1;
  return respond(c, 200, "OK", BODY, c->close_after);
}

/* one line (a chunk size or a trailer) collected byte by byte; returns 1 when complete, 0 when not yet, -1 bad */
static int take_line(conn_t *c, const char **p, const char *end) {
  while (*p < end) {
    char ch = *(*p)++;
    if (c->line_len + 1 >= sizeof c->line) return -1;
    c->line[c->line_len++] = ch;
    if (c->line_len >= 2 && c->line[c->line_len - 2] == '\r' && ch == '\n') {
      c->line[c->line_len - 2] = '\0';
      return 1;
    }
  }
  return 0;
}

/* passes over up to c->remaining body bytes (they are not kept); returns 1 when none remain */
static int skip_body(conn_t *c, const char **p, const char *end) {
  unsigned long long n = (unsigned long long)(end - *p);
  if (n > c->remaining) n = c->remaining;
  *p += n;
  c->remaining -= n;
  return c->remaining == 0;
}

/* feeds received bytes through the request state machine; returns -1 to close the connection */
static int feed(conn_t *c, const char *p, const char *end) {
  while (p < end && !c->closing) {
    switch (c->st) {
    case HEAD: {
      size_t room = HEAD_MAX - 1 - c->head_len;
      size_t n = (size_t)(end - p);
      if (n > room) n = room;
      memcpy(c->head + c->head_len, p, n);
      size_t before = c->head_len;
      c->head_len += n;
      c->head[c->head_len] = '\0';
      size_t from = before >= 3 ? before - 3 : 0;
      char *found = strstr(c->head + from, "\r\n\r\n");
      if (found == NULL) {
        if (c->head_len >= HEAD_MAX - 1)
          return respond(c, 431, "Request Header Fields Too Large", "{\"error\":\"request head over 16 KiB\"}", 1);
        p += n;
        break;
      }
      size_t head_end = (size_t)(found - c->head) + 4;
      p += head_end - before;
      c->head[head_end] = '\0';
      if (parse_head(c) < 0) return respond(c, 400, "Bad Request", "{\"error\":\"malformed request head\"}", 1);
      if (c->st == BODY_LEN && c->remaining == 0 && finish_request(c) < 0) return -1;
      break;
    }
    case BODY_LEN:
      if (skip_body(c, &p, end) && finish_request(c) < 0) return -1;
      break;
    case CHUNK_SIZE: {
      int got = take_line(c, &p, end);
      if (got < 0) return respond(c, 400, "Bad Request", "{\"error\":\"malformed chunk size\"}", 1);
      if (got == 0) break;
      char *stop;
      errno = 0;
      unsigned long long size = strtoull(c->line, &stop, 16);
      if (errno != 0 || stop == c->line || (*stop != '\0' && *stop != ';' && *stop != ' '))
        return respond(c, 400, "Bad Request", "{\"error\":\"malformed chunk size\"}", 1);
      c->line_len = 0;
      if (size == 0) {
        c->st = TRAILER;
      } else {
        c->st = CHUNK_DATA;
        c->remaining = size;
      }
      break;
    }
    case CHUNK_DATA:
      if (skip_body(c, &p, end)) {
        c->st = CHUNK_DATA_END;
        c->remaining = 2;
      }
      break;
    case CHUNK_DATA_END: {
      char want = c->remaining == 2 ? '\r' : '\n';
      if (*p++ != want) return respond(c, 400, "Bad Request", "{\"error\":\"malformed chunk\"}", 1);
      if (--c->remaining == 0) {
        c->st = CHUNK_SIZE;
        c->line_len = 0;
      }
      break;
    }
    case TRAILER: {
      int got = take_line(c, &p, end);
      if (got < 0) return respond(c, 400, "Bad Request", "{\"error\":\"trailer line too long\"}", 1);
      if (got == 0) break;
      int empty = c->line[0] == '\0';
      c->line_len = 0;
      if (empty && finish_request(c) < 0) return -1;
      break;
    }
    }
  }
  return 0;
}

static void set_out_interest(conn_t *c, int want) {
  if (c->want_out == want) return;
  struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.fd = c->fd};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want;
}

/* writes what is pending; returns -1 when the connection is done (closed by us or broken) */
static int flush(conn_t *c) {
  while (c->out_sent < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_out_interest(c, 1);
        return 0;
      }
      if (errno == EINTR) continue;
      return -1;
    }
    c->out_sent += (size_t)n;
  }
  c->out_sent = c->out_len = 0;
  set_out_interest(c, 0);
  return c->closing ? -1 : 0;
}

static void accept_all(int listener) {
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (fd >= MAX_FD) {
      close(fd);
      continue;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->st = HEAD;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      free(c);
      continue;
    }
    conns[fd] = c;
    open_connections += 1;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: responder NAME [PORT]\n");
    return 2;
  }
  name = argv[1];
  for (const char *p = name; *p != '\0'; p++) {
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
      fprintf(stderr, "responder: NAME must be letters, digits, - or _ (it is written into JSON): %s\n", name);
      return 2;
    }
  }
  int port = argc > 2 ? atoi(argv[2]) : 0;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 4096) < 0) {
    perror("responder: listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(listener, (struct sockaddr *)&addr, &alen);
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  /* the harness holds our stdin open; when it closes (the harness ended, however it ended) we go too */
  ev.data.fd = STDIN_FILENO;
  int watch_stdin = epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
  printf("LISTENING %d\n", ntohs(addr.sin_port));
  fflush(stdout);

  static char buf[READ_CHUNK];
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("responder: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        accept_all(listener);
        continue;
      }
      if (watch_stdin && fd == STDIN_FILENO) {
        ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
        if (r <= 0) return 0;
        continue;
      }
      conn_t *c = conns[fd];
      if (c == NULL) continue;
      if (events[i].events & EPOLLOUT) {
        if (flush(c) < 0) {
          drop(c);
          continue;
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          drop(c);
          continue;
        }
        if (r < 0) continue;
        if (feed(c, buf, buf + r) < 0 || flush(c) < 0) drop(c);
      }
    }
  }
}
