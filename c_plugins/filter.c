/* The shipped example filter, built to c_plugins/filter.so; a teaching example of the
 * ABI in include/arus/filter.h. filter_args, space-separated, in any combination:
 *   upper       upper-case ASCII letters in both directions
 *   block=WORD  close the connection when the client sends WORD (case-sensitive,
 *               client_to_backend only); no complete WORD ever reaches the backend,
 *               also not as the result of upper
 *   sniff=N     filter the first N bytes of each direction, then hand the direction
 *               back to splice; the counts are logged when the connection closes
 * Without upper the filter only inspects: on a host that offers ARUS_HOST_FORWARD it
 * returns ARUS_FILTER_FORWARD for the bytes it lets through instead of copying them to
 * `out` (the host sends them as they are); on an older host it copies them.
 * Thread-safety: route state is read-only after create(); connection state belongs to
 * the connection's worker thread.
 */
#include "arus/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest WORD accepted by block=: the scan below is O(input * WORD) in the worst case,
 * and a held-back partial match must stay under ARUS_FILTER_MAX_HOLD_BACK. */
#define BLOCK_WORD_MAX 1024u

/* Per-route settings, parsed once by create() and only read afterwards, so connections
 * on different worker threads may share them without locks. */
struct route_config {
  int upper;
  char* block_word; /* NULL = no block rule */
  size_t block_len;
  int sniff; /* non-zero when sniff=N was given */
  unsigned long long sniff_limit;
};

/* Per-connection state: everything that changes while bytes flow lives here, never in
 * route_config or in globals. */
struct conn_state {
  const struct route_config* config;
  const struct arus_conn_info* conn; /* valid until close() returns */
  int forward;                       /* the host takes ARUS_FILTER_FORWARD */
  unsigned long long filtered[2];    /* bytes consumed per direction */
};

/* Writes "<what> ('<token>')" into the host's error buffer; snprintf always
 * NUL-terminates and cuts what does not fit. */
static void set_error(char* error, size_t error_size, const char* what, const char* token,
                      size_t token_len) {
  if (token_len > 64) token_len = 64; /* a long WORD would hide the reason */
  snprintf(error, error_size, "%s ('%.*s')", what, (int)token_len, token);
}

/* Parses one "key" or "key=value" token of filter_args into cfg. Returns 0 or -1. */
static int parse_token(struct route_config* cfg, const char* token, size_t len, char* error,
                       size_t error_size) {
  if (len == 5 && memcmp(token, "upper", 5) == 0) {
    cfg->upper = 1;
    return 0;
  }
  if (len >= 6 && memcmp(token, "block=", 6) == 0) {
    size_t word_len = len - 6;
    if (word_len == 0) {
      set_error(error, error_size, "block=WORD: WORD is empty", token, len);
      return -1;
    }
    if (cfg->block_word != NULL) {
      set_error(error, error_size, "block given twice", token, len);
      return -1;
    }
    if (word_len > BLOCK_WORD_MAX) {
      set_error(error, error_size, "block=WORD: WORD longer than 1024 bytes", token, len);
      return -1;
    }
    cfg->block_word = malloc(word_len);
    if (cfg->block_word == NULL) {
      set_error(error, error_size, "out of memory", token, len);
      return -1;
    }
    memcpy(cfg->block_word, token + 6, word_len);
    cfg->block_len = word_len;
    return 0;
  }
  if (len >= 6 && memcmp(token, "sniff=", 6) == 0) {
    unsigned long long n = 0;
    size_t i;
    if (cfg->sniff) {
      set_error(error, error_size, "sniff given twice", token, len);
      return -1;
    }
    if (len == 6) {
      set_error(error, error_size, "sniff=N: N is empty", token, len);
      return -1;
    }
    for (i = 6; i < len; ++i) {
      unsigned digit = (unsigned)(token[i] - '0');
      if (digit > 9 || n > (18446744073709551615ull - digit) / 10) {
        set_error(error, error_size, "sniff=N: N must be a non-negative integer", token, len);
        return -1;
      }
      n = n * 10 + digit;
    }
    cfg->sniff = 1;
    cfg->sniff_limit = n;
    return 0;
  }
  snprintf(error, error_size, "unknown argument '%.*s' (expected upper, block=WORD or sniff=N)",
           (int)(len > 64 ? 64 : len), token);
  return -1;
}

static void filter_destroy(void* route_state) {
  struct route_config* cfg = route_state;
  if (cfg == NULL) return;
  free(cfg->block_word);
  free(cfg);
}

static int filter_create(const char* args, void** route_state, char* error, size_t error_size) {
  struct route_config* cfg = calloc(1, sizeof *cfg);
  const char* p = args;
  if (cfg == NULL) {
    snprintf(error, error_size, "out of memory");
    return -1;
  }
  /* args belongs to the host and dies when we return: parse_token copies the WORD. */
  while (*p != '\0') {
    const char* start;
    while (*p == ' ' || *p == '\t') ++p;
    start = p;
    while (*p != '\0' && *p != ' ' && *p != '\t') ++p;
    if (p > start && parse_token(cfg, start, (size_t)(p - start), error, error_size) != 0) {
      filter_destroy(cfg);
      return -1;
    }
  }
  *route_state = cfg;
  return 0;
}

static int filter_open(void* route_state, const struct arus_conn_info* conn, void** conn_state) {
  struct conn_state* cs = calloc(1, sizeof *cs);
  if (cs == NULL) return -1; /* the host closes this connection and logs it */
  cs->config = route_state;
  cs->conn = conn;
  /* Asked once here: the answer holds for the connection's life. */
  cs->forward = arus_host_has(conn, ARUS_HOST_FORWARD);
  *conn_state = cs;
  return 0;
}

static void filter_close(void* conn_state) {
  struct conn_state* cs = conn_state;
  if (cs->config->sniff) {
    /* The host's log line carries filter, route and client; we add what we counted. */
    char message[128];
    snprintf(message, sizeof message, "sniff client_to_backend=%llu backend_to_client=%llu",
             cs->filtered[ARUS_CLIENT_TO_BACKEND], cs->filtered[ARUS_BACKEND_TO_CLIENT]);
    cs->conn->log(cs->conn, ARUS_LOG_INFO, message);
  }
  free(cs);
}

/* Does WORD, or its first `len` bytes, sit at `p`? With upper, what the backend would
 * receive (the upper-cased bytes) is compared too, so upper cannot turn the client's
 * "secret" into a "SECRET" that block=SECRET lets through. Each form is compared as a
 * whole: mixing them byte by byte would block strings that are neither. */
static int word_at(const struct route_config* cfg, const uint8_t* p, size_t len) {
  size_t k;
  if (memcmp(p, cfg->block_word, len) == 0) return 1;
  if (!cfg->upper) return 0;
  for (k = 0; k < len; ++k) {
    uint8_t c = p[k];
    if (c >= 'a' && c <= 'z') c = (uint8_t)(c - 'a' + 'A');
    if (c != (uint8_t)cfg->block_word[k]) return 0;
  }
  return 1;
}

/* How many leading bytes of in[0..limit) the block rule lets through: all of them, or
 * up to the start of a possible partial match at the end of `in`. Sets *found when a
 * complete WORD starts before `limit`. A match that starts before `limit` is examined
 * even if it extends past it, so sniff=N cannot let a WORD slip through at the
 * boundary. */
static size_t block_safe_prefix(const struct route_config* cfg, const uint8_t* in, size_t in_len,
                                size_t limit, int eof, int* found) {
  size_t i;
  *found = 0;
  for (i = 0; i < limit; ++i) {
    size_t left = in_len - i;
    if (left >= cfg->block_len) {
      if (word_at(cfg, in + i, cfg->block_len)) {
        *found = 1;
        return i;
      }
    } else if (!eof && word_at(cfg, in + i, left)) {
      /* The tail in[i..] may be the start of WORD: hold it back until the next bytes
       * decide it. Later positions are shorter still, so no complete match follows. At
       * EOF nothing more can come, so the tail cannot complete and is released. */
      return i;
    }
  }
  return limit;
}

static int filter_transform(void* conn_state, int direction, const uint8_t* in, size_t in_len,
                            uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                            uint32_t flags) {
  struct conn_state* cs = conn_state;
  const struct route_config* cfg = cs->config;
  int eof = (flags & ARUS_FILTER_EOF) != 0;
  size_t limit = in_len; /* bytes this call may consume */
  size_t n;
  size_t i;

  if (cfg->sniff) {
    unsigned long long left = cfg->sniff_limit - cs->filtered[direction];
    if (left == 0) return ARUS_FILTER_HAND_BACK; /* sniff=0, or N reached exactly */
    if (left < limit) limit = (size_t)left;
  }
  if (cfg->block_word != NULL && direction == ARUS_CLIENT_TO_BACKEND) {
    int found;
    limit = block_safe_prefix(cfg, in, in_len, limit, eof, &found);
    if (found) {
      cs->conn->log(cs->conn, ARUS_LOG_INFO, "blocked: client sent the block word");
      return ARUS_FILTER_CLOSE; /* nothing of this call's input is forwarded */
    }
  }

  if (!cfg->upper && cs->forward) {
    /* Nothing to change: the host sends in[0..limit) as it is. A sniff limit reached
     * here is handed back by the next call (left == 0 above). */
    *in_used = limit;
    cs->filtered[direction] += limit;
    return ARUS_FILTER_FORWARD;
  }
  /* Output is one byte per input byte, so room for n output bytes lets us consume n
   * input bytes; the host sends what we wrote and calls again with the rest. */
  n = limit < out_cap ? limit : out_cap;
  for (i = 0; i < n; ++i) {
    uint8_t c = in[i];
    if (cfg->upper && c >= 'a' && c <= 'z') c = (uint8_t)(c - 'a' + 'A');
    out[i] = c;
  }
  *in_used = n;
  *out_len = n;
  cs->filtered[direction] += n;

  if (cfg->sniff && cs->filtered[direction] == cfg->sniff_limit) {
    /* Seen enough: the host forwards the rest of `in` unchanged, then splices. */
    return ARUS_FILTER_HAND_BACK;
  }
  return ARUS_FILTER_CONTINUE;
}

static const struct arus_filter_api filter_api = {
    ARUS_FILTER_ABI_VERSION,
    sizeof(struct arus_filter_api),
    "filter",
    filter_create,
    filter_destroy,
    filter_open,
    filter_close,
    filter_transform,
};

ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &filter_api; }
