/* The floor under the health checker's CPU (docs/performance.md, "Active health checks"):
 * the same redis checks as the checker (connect, send PING, read the reply, close) with
 * the fewest system calls a program can make for them: blocking sockets, so five calls
 * per check and no readiness wait, one check after the other, started in the same 100
 * slots per interval as the checker's so that one sleep serves a slot's checks. Prints
 * the CPU this process spent over the run. Run by health_checker_cpu.py --floor against
 * backends that answer (a blocking connect to a silent one would wait minutes); not part
 * of any test.
 *
 *   health_check_floor A.B PORT COUNT INTERVAL_MS SECONDS
 * checks A.B.(1 + i / 250).(1 + i % 250):PORT for i in 0..COUNT-1 every INTERVAL_MS. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double seconds_of(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double when) {
  struct timespec ts;
  ts.tv_sec = (time_t)when;
  ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
  }
}

#define SLOTS 100 /* per interval, as the checker's kPhaseSlots */

/* 1 when the check passed. */
static int check(const struct sockaddr_in* address) {
  int ok = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  char reply[64];
  if (connect(fd, (const struct sockaddr*)address, sizeof *address) == 0 &&
      send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6 && recv(fd, reply, sizeof reply, 0) >= 5) {
    ok = memcmp(reply, "+PONG", 5) == 0;
  }
  close(fd);
  return ok;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s A.B PORT COUNT INTERVAL_MS SECONDS\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[2]), count = atoi(argv[3]);
  double interval = atoi(argv[4]) / 1000.0, duration = atof(argv[5]);
  if (count <= 0 || interval <= 0) return 2;
  struct sockaddr_in* addresses = calloc((size_t)count, sizeof *addresses);
  if (!addresses) return 1;
  for (int i = 0; i < count; ++i) {
    char text[32];
    snprintf(text, sizeof text, "%s.%d.%d", argv[1], 1 + i / 250, 1 + i % 250);
    addresses[i].sin_family = AF_INET;
    addresses[i].sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, text, &addresses[i].sin_addr) != 1) return 2;
  }
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  double start = now_s();
  long done = 0, passed = 0;
  for (long slot = 0; start + slot * interval / SLOTS < start + duration; ++slot) {
    sleep_until(start + slot * interval / SLOTS);
    /* This slot's share of the backends: slot s of each interval checks i = s, s + SLOTS.. */
    for (int i = (int)(slot % SLOTS); i < count; i += SLOTS, ++done) {
      passed += check(&addresses[i]);
    }
  }
  double wall = now_s() - start;
  getrusage(RUSAGE_SELF, &after);
  double user = seconds_of(after.ru_utime) - seconds_of(before.ru_utime);
  double system = seconds_of(after.ru_stime) - seconds_of(before.ru_stime);
  printf("floor CPU: %.2f %% of one core (user %.2f %%, system %.2f %%); checks %ld, passed %ld,"
         " %.0f/s, %.0f us each\n",
         100 * (user + system) / wall, 100 * user / wall, 100 * system / wall, done, passed,
         done / wall, done ? (user + system) / done * 1e6 : 0.0);
  free(addresses);
  return passed == done ? 0 : 1;
}
