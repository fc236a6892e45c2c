/* Forwarding pass-through filter for the benchmark (targets arus-filter and
 * arus-base-filter): lets every byte of both directions through unchanged by returning
 * ARUS_FILTER_FORWARD, so the filter path is timed as an inspecting filter (one that
 * reads and never rewrites) costs it. On a host without ARUS_HOST_FORWARD (an older
 * build, e.g. the baseline of an A/B) it copies, as bench/passthrough_copy.c (this file
 * built with PASSTHROUGH_ALWAYS_COPY) always does.
 * Connection state is one flag, read-only after open(): safe from any worker thread. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arus/filter.h"

#ifndef PASSTHROUGH_ALWAYS_COPY
#define PASSTHROUGH_ALWAYS_COPY 0
#endif

/* conn_state points at one of these: whether the host takes FORWARD. */
static const int kForward = 1;
static const int kCopy = 0;

static int pt_create(const char* args, void** route_state, char* error, size_t error_size) {
  (void)args;
  (void)error;
  (void)error_size;
  *route_state = NULL;
  return 0;
}

static void pt_destroy(void* route_state) { (void)route_state; }

static int pt_open(void* route_state, const struct arus_conn_info* conn, void** conn_state) {
  int forward = !PASSTHROUGH_ALWAYS_COPY && arus_host_has(conn, ARUS_HOST_FORWARD);
  (void)route_state;
  *conn_state = (void*)(forward ? &kForward : &kCopy);
  return 0;
}

static void pt_close(void* conn_state) { (void)conn_state; }

static int pt_transform(void* conn_state, int direction, const uint8_t* in, size_t in_len,
                        uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                        uint32_t flags) {
  size_t n;
  (void)direction;
  (void)flags;
  if (*(const int*)conn_state) {
    *in_used = in_len; /* all of it goes on as it is; *out_len stays 0 */
    return ARUS_FILTER_FORWARD;
  }
  n = in_len < out_cap ? in_len : out_cap;
  if (n > 0) memcpy(out, in, n);
  *in_used = n;
  *out_len = n;
  return ARUS_FILTER_CONTINUE;
}

static const struct arus_filter_api pt_api = {
    ARUS_FILTER_ABI_VERSION, sizeof(struct arus_filter_api), "passthrough",
    pt_create, pt_destroy, pt_open, pt_close, pt_transform,
};

ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &pt_api; }
