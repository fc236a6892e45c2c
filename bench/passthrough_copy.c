/* Copying pass-through filter for the benchmark (target arus-filter-copy): copies every
 * byte of both directions to the output unchanged, as a filter that rewrites bytes must,
 * so the buffered (filter) path is timed with the filter's copy and no other work on
 * top. bench/passthrough.c is the same filter forwarding instead of copying.
 * Stateless: safe from any worker thread. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arus/filter.h"

static int pt_create(const char* args, void** route_state, char* error, size_t error_size) {
  (void)args;
  (void)error;
  (void)error_size;
  *route_state = NULL;
  return 0;
}

static void pt_destroy(void* route_state) { (void)route_state; }

static int pt_open(void* route_state, const struct arus_conn_info* conn, void** conn_state) {
  (void)route_state;
  (void)conn;
  *conn_state = NULL;
  return 0;
}

static void pt_close(void* conn_state) { (void)conn_state; }

static int pt_transform(void* conn_state, int direction, const uint8_t* in, size_t in_len,
                        uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                        uint32_t flags) {
  size_t n = in_len < out_cap ? in_len : out_cap;
  (void)conn_state;
  (void)direction;
  (void)flags;
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
