/* arus-proxy filter plugin ABI: the one boundary between the proxy and a C filter.
 * Plain C99 (no C++ needed), stable: later versions only append fields.
 * Thread-safety: see "Threading" below; the guide for filter authors is docs/filters.md.
 *
 * Conventions
 * - A filter is a shared object that exports one function, arus_filter_entry(), which
 *   returns a descriptor (struct arus_filter_api) in static storage. The descriptor
 *   starts with abi_version and struct_size; the proxy refuses a file whose
 *   abi_version is not ARUS_FILTER_ABI_VERSION or whose descriptor is too small.
 * - Fixed-width integers, pointer + length for bytes, opaque void* for filter state.
 * - Nothing unwinds through this boundary: no C++ exceptions, no longjmp out of a call.
 *
 * Lifetimes and ownership
 * - create(args)   once per route using the filter (and again on every reload that
 *                  keeps it). `args` is the route's filter_args ("" when unset, never
 *                  NULL), owned by the host and valid only during the call: copy what
 *                  you keep. On success store your state in *route_state (may be
 *                  NULL) and return 0; on failure write a NUL-terminated message into
 *                  error[error_size] and return non-zero. The host prints the message
 *                  with the file's name.
 * - destroy(rs)    once, after every connection opened with rs has been closed. Frees
 *                  what create allocated.
 * - open(rs, conn) once per client connection, before its first transform. Store your
 *                  per-connection state in *conn_state (may be NULL); return 0, or
 *                  non-zero to refuse (the host closes that connection and logs it).
 *                  `conn` is owned by the host and stays valid, at the same address,
 *                  until close() returns: you may keep the pointer in your state.
 * - close(cs)      once per connection that open() accepted, when the connection ends
 *                  for any reason (also after a hand-back of both directions or a
 *                  CLOSE verdict). Frees cs. transform is never called after it.
 * - transform()    per chunk and direction; `in` and `out` are host buffers valid only
 *                  during the call: never keep these pointers.
 * - The descriptor and everything it points to must stay valid while the file is
 *   loaded. The host unloads it (dlclose) only after destroy() of its last route state.
 *
 * Threading
 * - All calls for one connection (open, every transform of both directions, close)
 *   come from one worker thread, one at a time: conn_state needs no locking.
 * - Different connections of one route run on different worker threads at the same
 *   time, all sharing route_state: treat it as read-only after create(), or guard
 *   what you change yourself.
 * - create() and destroy() may come from any thread (the reload thread, or the worker
 *   that closed the last connection of a replaced configuration).
 * - conn->log() may be called from open, transform and close of that connection.
 * - Never block (no network, no disk, no sleeping lock): a worker serves thousands of
 *   connections and waits for none of them.
 *
 * The transform contract (streaming, like zlib's inflate)
 *   int transform(void* cs, int direction,
 *                 const uint8_t* in, size_t in_len,
 *                 uint8_t* out, size_t out_cap,
 *                 size_t* in_used, size_t* out_len, uint32_t flags);
 * - `in` holds the bytes of one direction not consumed yet. Read in[0..in_len).
 *   Write at most out_cap bytes to out[0..out_cap). Set *in_used to how many input
 *   bytes you consumed (0..in_len) and *out_len to how many bytes you wrote
 *   (0..out_cap). Both start at 0. The host forwards out[0..*out_len) and drops
 *   in[0..*in_used); bytes you did not consume come back at the start of `in` on the
 *   next call, followed by whatever has arrived since.
 * - Output does not fit: stop, report what you consumed and wrote, return
 *   ARUS_FILTER_CONTINUE. The host sends the output and calls again with the rest.
 *   Output may grow far past input (an encoder): consume only as much input as the
 *   room allows, or keep surplus output in conn_state and fill `out` completely; a call
 *   that fills `out` completely (*out_len == out_cap) is always followed by another one
 *   once there is room, even with in_len == 0.
 * - Holding back: leave a tail of `in` unconsumed when you cannot decide it yet (a
 *   possible partial match). Hold back at most ARUS_FILTER_MAX_HOLD_BACK bytes: the
 *   host's input buffer is larger than that, but not unbounded.
 * - ARUS_FILTER_EOF in flags: the sender finished this direction and `in` holds all
 *   that is left (possibly nothing). Consume all of it and write any trailer. The host
 *   keeps calling with ARUS_FILTER_EOF until a call consumes all of `in` and leaves
 *   room in `out` (*in_used == in_len and *out_len < out_cap); no transform call for
 *   this direction follows.
 * - Verdicts (the return value):
 *   ARUS_FILTER_CONTINUE  as above.
 *   ARUS_FILTER_HAND_BACK "I have seen enough of this direction": the host sends this
 *                         call's output, then the unconsumed rest of `in` unchanged,
 *                         then moves the rest of the direction untouched (by splice).
 *                         transform is never called for this direction again; the
 *                         other direction is unaffected. Put everything you still
 *                         want sent into `out` before handing back.
 *   ARUS_FILTER_CLOSE     close the connection now (a policy decision, e.g. blocked
 *                         content). This call's output and anything still pending in
 *                         either direction are discarded. Log why with conn->log().
 *   ARUS_FILTER_ERROR     the filter failed (e.g. out of memory): same as CLOSE, logged
 *                         by the host as an error.
 *   ARUS_FILTER_FORWARD   "in[0..*in_used) goes on unchanged": the host sends the bytes
 *                         it gave you as they are (by splice where they came through
 *                         its pipe), without your copying them to `out` nor its
 *                         comparing them. *out_len must stay 0. Otherwise as CONTINUE:
 *                         a tail you leave unconsumed is held back, the EOF rule holds
 *                         (at EOF, forwarding all of `in` ends the direction; to add a
 *                         trailer, return CONTINUE with the rest of `in` and the trailer
 *                         in `out`), calls that forward and calls that write may follow
 *                         each other in any order and the sink gets their bytes in that
 *                         order. Only when the host offers it: see "Host features".
 * - Host features: what this host can do beyond ABI version 1. open() finds them in
 *   conn->host_features, a field older hosts do not have: test them with
 *   arus_host_has(conn, ARUS_HOST_FORWARD), never by reading the field directly, and
 *   keep the answer in conn_state. A filter for older hosts too copies to `out` and
 *   returns CONTINUE where the feature is missing (an older host closes the connection
 *   on a verdict it does not know).
 * - Breaking the contract (*out_len > out_cap, *in_used > in_len, an unknown verdict,
 *   FORWARD with *out_len != 0, no progress at all when the host cannot give more input
 *   or more room) closes that
 *   connection with a log line naming the filter and the breach. The host checks the
 *   lengths you report before using them; it cannot check bytes you write out of
 *   bounds, so never write past out[out_cap - 1].
 */
#ifndef ARUS_FILTER_H
#define ARUS_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped only for an incompatible change; appending to a struct keeps the version. */
#define ARUS_FILTER_ABI_VERSION 1u

/* The one symbol the host looks up in a filter file. */
#define ARUS_FILTER_ENTRY_SYMBOL "arus_filter_entry"

/* The longest tail of `in` a filter may leave unconsumed while waiting for more. */
#define ARUS_FILTER_MAX_HOLD_BACK 4096u

/* transform() flags. */
#define ARUS_FILTER_EOF 0x1u

/* Directions, the `direction` argument of transform(). */
enum { ARUS_CLIENT_TO_BACKEND = 0, ARUS_BACKEND_TO_CLIENT = 1 };

/* Verdicts, the return value of transform(). */
enum {
  ARUS_FILTER_CONTINUE = 0,
  ARUS_FILTER_HAND_BACK = 1,
  ARUS_FILTER_CLOSE = 2,
  ARUS_FILTER_ERROR = 3,
  ARUS_FILTER_FORWARD = 4 /* only where arus_host_has(conn, ARUS_HOST_FORWARD) */
};

/* Host features, bits of arus_conn_info.host_features (see "Host features" above). */
#define ARUS_HOST_FORWARD 0x1u /* transform() may return ARUS_FILTER_FORWARD */

/* Log levels for arus_conn_info.log(), as in the proxy's log_level. */
enum { ARUS_LOG_ERROR = 0, ARUS_LOG_WARN = 1, ARUS_LOG_INFO = 2, ARUS_LOG_DEBUG = 3 };

/* What the host tells open() about a connection. Owned by the host; valid, at the same
 * address, until close() returns. Strings are NUL-terminated. */
struct arus_conn_info {
  uint32_t struct_size;   /* sizeof(struct arus_conn_info) as the host built it */
  uint32_t reserved;      /* 0 */
  uint64_t connection_id; /* unique within the process, for correlating log lines */
  const char* route;      /* the route's NAME, from [route:NAME] */
  const char* client;     /* client address "IP:PORT" */
  const char* backend;    /* backend address "IP:PORT" */
  /* Writes one log line through the host's log, tagged with the filter, route, client
   * and connection. `message` is copied (at most 1024 bytes are used). The host may
   * drop lines when a connection logs too many. */
  void (*log)(const struct arus_conn_info* conn, int level, const char* message);
  void* host_data; /* the host's; do not touch */
  /* Appended after ABI version 1's first hosts: read it with arus_host_has(), which
   * checks struct_size first (an older host's struct ends before it). */
  uint64_t host_features; /* ARUS_HOST_* bits */
};

/* Whether the host that opened `conn` offers `feature` (an ARUS_HOST_* bit). False on
 * a host older than the feature. */
static inline int arus_host_has(const struct arus_conn_info* conn, uint64_t feature) {
  return conn != NULL &&
         conn->struct_size >= offsetof(struct arus_conn_info, host_features) +
                                  sizeof(conn->host_features) &&
         (conn->host_features & feature) == feature;
}

/* The descriptor returned by arus_filter_entry(). Fill every field. */
struct arus_filter_api {
  uint32_t abi_version; /* ARUS_FILTER_ABI_VERSION */
  uint32_t struct_size; /* sizeof(struct arus_filter_api) */
  const char* name;     /* short name for log lines, e.g. "upper" */

  int (*create)(const char* args, void** route_state, char* error, size_t error_size);
  void (*destroy)(void* route_state);
  int (*open)(void* route_state, const struct arus_conn_info* conn, void** conn_state);
  void (*close)(void* conn_state);
  int (*transform)(void* conn_state, int direction, const uint8_t* in, size_t in_len, uint8_t* out,
                   size_t out_cap, size_t* in_used, size_t* out_len, uint32_t flags);
};

/* Marks the entry point as exported even when the filter is built with
 * -fvisibility=hidden. */
#if defined(__GNUC__)
#define ARUS_FILTER_EXPORT __attribute__((visibility("default")))
#else
#define ARUS_FILTER_EXPORT
#endif

/* The entry point every filter defines. Returns a pointer to a static descriptor. */
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void);

typedef const struct arus_filter_api* (*arus_filter_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* ARUS_FILTER_H */
