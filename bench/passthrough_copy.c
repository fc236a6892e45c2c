/* Copying pass-through filter for the benchmark (target arus-filter-copy): copies every
 * byte of both directions to the output unchanged, as a filter that rewrites bytes must,
 * so the buffered (filter) path is timed with the filter's copy and no other work on
 * top. The same filter as bench/passthrough.c, which forwards instead where it can. */
#define PASSTHROUGH_ALWAYS_COPY 1
#include "passthrough.c"
