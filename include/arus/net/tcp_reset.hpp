// Passing a TCP reset on: how many sent bytes the peer has not acknowledged yet, and a
// close that sends RST instead of FIN. Stateless; safe from any thread.
#pragma once

#include <cstddef>

namespace arus {

// Bytes written to `fd` that its peer has not acknowledged (SIOCOUTQ); 0 on error. A
// reset discards them, so a relay waits for 0 before passing a reset on.
size_t unacknowledged_bytes(int fd) noexcept;

// Makes the next close() of `fd` abortive (SO_LINGER on, 0 s): the peer gets RST, and
// reads ECONNRESET after the bytes it already has, instead of a clean EOF.
void reset_on_close(int fd) noexcept;

}  // namespace arus
