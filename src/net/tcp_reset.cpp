// Passing a TCP reset on: SIOCOUTQ and SO_LINGER {1, 0}.
#include "arus/net/tcp_reset.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace arus {

size_t unacknowledged_bytes(int fd) noexcept {
  int bytes = 0;
  if (::ioctl(fd, SIOCOUTQ, &bytes) != 0 || bytes < 0) return 0;
  return static_cast<size_t>(bytes);
}

void reset_on_close(int fd) noexcept {
  linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
}

}  // namespace arus
