// Moving a configuration parsed on another thread into the calling thread's heap.
#pragma once

#include "arus/config/config.hpp"

namespace arus {

// A copy of `parsed` whose every allocation is made anew by the calling thread: its
// strings and global settings copied, its route list in new slots, each route only
// `parsed` holds copied (RouteList::relocated); routes shared with the running
// configuration stay those objects. `parsed` keeps what it had, for the caller to free
// on a thread that is not long-lived. Why (docs/performance.md, "Reload at scale"): a
// reload parses on a thread of its own, whose glibc arena then holds the whole parse.
// Objects of it kept for good (the changed routes, the file's text, the route list), and
// parse memory freed by the control thread (its per-thread cache hands those chunks to
// its next allocations, which may live for good), stay scattered over that arena's pages
// and each pins its page: 5,000 routes grew ~25 KiB per reload, without end. Call on the
// thread that keeps the configuration, before anything of `parsed` is freed there.
Config relocated(Config& parsed);

}  // namespace arus
