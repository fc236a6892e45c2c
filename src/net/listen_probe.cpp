// The listen probe: one plain bind before the SO_REUSEPORT ones.
//
// Why a probe and not sock_diag (netlink, listing the sockets that listen on a port and
// comparing their inodes with ours): neither can stop a same-user process that binds
// with SO_REUSEPORT after we listen, because the kernel lets it join at any time; the
// only thing left to decide is whether the address is taken when we bind, and one
// bind(2) answers that, needs no privilege and no parsing, and costs nothing per
// connection. What sock_diag would add is closing the window between the probe and our
// first SO_REUSEPORT bind (two proxies started in the same microseconds) and telling a
// socket of ours from another one on an overlapping address; both are rare enough that
// the extra code is not worth it. The limits are in docs/operations.md.
#include "arus/net/listen_probe.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "arus/core/unique_fd.hpp"
#include "arus/net/socket.hpp"

namespace arus {
Result<void> probe_listen_address(const SocketAddress& address) {
  Result<UniqueFd> probe = listener_socket(address, /*reuse_port=*/false);
  if (!probe) return std::move(probe).error();
  if (::bind(probe->get(), address.sockaddr_ptr(), address.length()) == 0) return {};
  if (errno == EADDRINUSE) return Error{address.to_string() + " already in use by another socket"};
  return posix_error("bind " + address.to_string(), errno);
}

bool binds_overlap(const SocketAddress& a, const SocketAddress& b) noexcept {
  if (a.empty() || b.empty() || a.family() != b.family() || a.port() != b.port()) return false;
  return a == b || a.is_wildcard() || b.is_wildcard();
}

}  // namespace arus
