// Which errno values mean this host ran short (descriptors, socket buffers, memory)
// rather than that a peer failed: what decides whether a peer is to blame.
#pragma once

#include <cerrno>

namespace arus {

// EMFILE/ENFILE: no descriptor left for this process, or for the whole system.
inline bool is_out_of_descriptors(int error) noexcept {
  return error == EMFILE || error == ENFILE;
}

// Out of descriptors, or of kernel memory for a socket (ENOBUFS, ENOMEM).
inline bool is_local_shortage(int error) noexcept {
  return is_out_of_descriptors(error) || error == ENOBUFS || error == ENOMEM;
}

}  // namespace arus
