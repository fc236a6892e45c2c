// Accept loop with descriptor-exhaustion handling.
#include "arus/net/acceptor.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "arus/net/local_shortage.hpp"

namespace arus {
void DescriptorReserve::refill() noexcept {
  if (!fd_) fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

Acceptor::End Acceptor::accept_batch(int listen_fd, int max, AcceptHandler& handler) noexcept {
  for (int i = 0; i < max; ++i) {
    sockaddr_storage storage;
    socklen_t length = sizeof storage;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&storage), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (reserve_ != nullptr && !reserve_->held()) reserve_->refill();  // descriptors are back
      handler.on_accepted(UniqueFd(fd), SocketAddress::from_sockaddr(
                                            reinterpret_cast<sockaddr*>(&storage), length));
      continue;
    }
    int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) return End::kDrained;
    if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
    handler.on_accept_error(error);
    if (reserve_ == nullptr || !is_local_shortage(error)) return End::kRetryLater;
    Refusal refusal = refuse_with_reserve(listen_fd, handler);
    if (refusal == Refusal::kRefused) continue;
    if (refusal == Refusal::kNothingPending) return End::kDrained;
    // No spare descriptor to refuse with: wait for descriptors to free up. The timer
    // (not a loop) keeps a full table from spinning the CPU.
    return End::kRetryLater;
  }
  return End::kBatchFull;
}

// Frees the spare descriptor, accepts one pending client into it and closes it at once,
// so the client sees the refusal instead of hanging in the backlog.
Acceptor::Refusal Acceptor::refuse_with_reserve(int listen_fd, AcceptHandler& handler) noexcept {
  if (!reserve_->held()) return Refusal::kNoReserve;
  reserve_->give_up();
  sockaddr_storage storage;
  socklen_t length = sizeof storage;
  int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&storage), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
  int error = errno;
  if (fd >= 0) {
    ::close(fd);
    handler.on_refused_no_descriptor(
        SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), length));
  }
  reserve_->refill();
  if (fd < 0) return error == EAGAIN ? Refusal::kNothingPending : Refusal::kNoReserve;
  return Refusal::kRefused;
}

}  // namespace arus
