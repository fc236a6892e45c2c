/* The floor of a user-space relay, for bench/filter_floor.py (docs/performance.md, "The
 * filter path"): the least work a proxy can do per byte when every byte must pass through
 * a filter's buffers, to set arus's filter path beside. Not part of the proxy or its tests.
 *
 *   copy_relay MODE LISTEN_PORT BACKEND_PORT     (127.0.0.1; one blocking thread per
 *                                                 direction, no epoll, no bookkeeping)
 *   MODE copy    read 64 KiB, memcpy to a second buffer (the pass-through filter), send:
 *                what arus's filter path does, with nothing else.
 *   MODE tee     splice the socket into a pipe, tee it, read the copy, memcpy, memcmp the
 *                output with the input, and splice the pipe's original pages on: a
 *                pass-through filter's output sent without the copy back into the kernel.
 *   MODE splice  socket -> pipe -> socket, as arus does on a route without a filter.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kChunk = 64 * 1024, kPipeBytes = 256 * 1024 };
enum Mode { kCopy, kTee, kSplice };
static enum Mode mode;

struct connection {
  int fds[2];
  int directions_left; /* the last direction to finish closes both sockets */
};

struct direction {
  int src, dst;
  struct connection* conn;
};

static void die(const char* what) {
  perror(what);
  exit(1);
}

/* Splices exactly n bytes from the pipe to the socket; 0 once the peer has gone. */
static int splice_out(int pipe_rd, int dst, size_t n) {
  while (n > 0) {
    ssize_t w = splice(pipe_rd, NULL, dst, NULL, n, SPLICE_F_MOVE);
    if (w <= 0) return 0;
    n -= (size_t)w;
  }
  return 1;
}

static void* relay(void* arg) {
  struct direction* d = arg;
  unsigned char* in = malloc(kChunk);
  unsigned char* out = malloc(kChunk);
  int raw[2], copy[2];
  if (!in || !out || pipe(raw) || pipe(copy)) die("setup");
  fcntl(raw[1], F_SETPIPE_SZ, kPipeBytes);
  fcntl(copy[1], F_SETPIPE_SZ, kPipeBytes);
  for (;;) {
    ssize_t n;
    if (mode == kCopy) {
      n = read(d->src, in, kChunk);
      if (n <= 0) break;
      memcpy(out, in, (size_t)n);
      ssize_t sent = 0;
      while (sent < n) {
        ssize_t w = send(d->dst, out + sent, (size_t)(n - sent), MSG_NOSIGNAL);
        if (w <= 0) goto done;
        sent += w;
      }
    } else if (mode == kTee) {
      n = splice(d->src, NULL, raw[1], NULL, kChunk, SPLICE_F_MOVE);
      if (n <= 0) break;
      if (tee(raw[0], copy[1], (size_t)n, 0) != n) die("tee");
      for (ssize_t got = 0; got < n;) {
        ssize_t r = read(copy[0], in + got, (size_t)(n - got));
        if (r <= 0) die("read pipe");
        got += r;
      }
      memcpy(out, in, (size_t)n);
      if (memcmp(out, in, (size_t)n) != 0) die("pass-through changed bytes");
      if (!splice_out(raw[0], d->dst, (size_t)n)) break;
    } else {
      n = splice(d->src, NULL, raw[1], NULL, kPipeBytes, SPLICE_F_MOVE);
      if (n <= 0) break;
      if (!splice_out(raw[0], d->dst, (size_t)n)) break;
    }
  }
done:
  shutdown(d->dst, SHUT_WR);
  close(raw[0]);
  close(raw[1]);
  close(copy[0]);
  close(copy[1]);
  free(in);
  free(out);
  struct connection* conn = d->conn;
  free(d);
  if (__atomic_sub_fetch(&conn->directions_left, 1, __ATOMIC_ACQ_REL) == 0) {
    close(conn->fds[0]);
    close(conn->fds[1]);
    free(conn);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s copy|tee|splice LISTEN_PORT BACKEND_PORT\n", argv[0]);
    return 2;
  }
  mode = strcmp(argv[1], "copy") == 0 ? kCopy : strcmp(argv[1], "tee") == 0 ? kTee : kSplice;
  signal(SIGPIPE, SIG_IGN);  /* splice has no MSG_NOSIGNAL */
  int one = 1;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  addr.sin_port = htons((uint16_t)atoi(argv[2]));
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) || listen(listener, 16)) die("listen");
  struct sockaddr_in backend = addr;
  backend.sin_port = htons((uint16_t)atoi(argv[3]));
  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) continue;
    int server = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(server, (struct sockaddr*)&backend, sizeof backend)) die("connect");
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct connection* conn = malloc(sizeof *conn);
    struct direction* up = malloc(sizeof *up);
    struct direction* down = malloc(sizeof *down);
    if (!conn || !up || !down) die("malloc");
    *conn = (struct connection){{client, server}, 2};
    *up = (struct direction){client, server, conn};
    *down = (struct direction){server, client, conn};
    pthread_t t;
    if (pthread_create(&t, NULL, relay, up) || pthread_detach(t)) die("thread");
    if (pthread_create(&t, NULL, relay, down) || pthread_detach(t)) die("thread");
  }
}
