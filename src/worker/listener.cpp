// Accept loop with descriptor-exhaustion handling.
#include "arus/worker/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "arus/core/log.hpp"
#include "arus/net/local_shortage.hpp"

namespace arus {
namespace {

constexpr int kAcceptBatch = 64;                // then yield to other handlers
constexpr uint64_t kExhaustedRetryMs = 100;     // retry accepting after EMFILE
constexpr uint64_t kExhaustionLogEveryMs = 1000;

UniqueFd open_reserve() noexcept { return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

}  // namespace

Listener::Listener(Reactor& reactor, AcceptSink& sink, size_t route_index, UniqueFd fd,
                   const SocketAddress& address)
    : reactor_(reactor), sink_(sink), route_index_(route_index), fd_(std::move(fd)),
      address_(address), reserve_fd_(open_reserve()) {}

Listener::~Listener() {
  reactor_.cancel_resume(this);
  reactor_.timers().cancel(*this);
}

int Listener::arm() noexcept { return reactor_.add(fd_.get(), EPOLLIN | EPOLLET, this); }

void Listener::on_events(uint32_t) noexcept { accept_batch(); }

void Listener::on_timer() noexcept { accept_batch(); }

void Listener::accept_batch() noexcept {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage storage;
    socklen_t length = sizeof storage;
    int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&storage), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (!reserve_fd_) reserve_fd_ = open_reserve();  // descriptors are back
      sink_.on_accept(route_index_, UniqueFd(fd),
                      SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), length));
      continue;
    }
    int error = errno;
    if (error == EAGAIN) return;
    if (error == EINTR || error == ECONNABORTED || error == EPROTO) continue;
    if (is_local_shortage(error)) {
      uint64_t now = reactor_.now_ms();
      if (now - last_exhaustion_log_ms_ >= kExhaustionLogEveryMs || last_exhaustion_log_ms_ == 0) {
        last_exhaustion_log_ms_ = now;
        log::warn("accept_failed").kv("error", strerror(error)).kv("action", "refusing new clients");
      }
      Refusal refusal = refuse_with_reserve();
      if (refusal == Refusal::kRefused) continue;
      if (refusal == Refusal::kNothingPending) return;
      // No spare descriptor to refuse with: wait for descriptors to free up. The timer
      // (not a loop) keeps a full table from spinning the CPU.
      reactor_.timers().schedule(*this, now + kExhaustedRetryMs);
      return;
    }
    log::error("accept_failed").kv("error", strerror(error));
    reactor_.timers().schedule(*this, reactor_.now_ms() + kExhaustedRetryMs);
    return;
  }
  reactor_.resume_later(this);  // more may be pending: continue next turn
}

// Frees the spare descriptor, accepts one pending client into it and closes it at once,
// so the client sees the refusal instead of hanging in the backlog.
Listener::Refusal Listener::refuse_with_reserve() noexcept {
  if (!reserve_fd_) return Refusal::kNoReserve;
  reserve_fd_.reset();
  sockaddr_storage storage;
  socklen_t length = sizeof storage;
  int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&storage), &length,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
  int error = errno;
  if (fd >= 0) {
    ::close(fd);
    sink_.on_refused_no_descriptor(
        route_index_, SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), length));
  }
  reserve_fd_ = open_reserve();
  if (fd < 0) return error == EAGAIN ? Refusal::kNothingPending : Refusal::kNoReserve;
  return Refusal::kRefused;
}

}  // namespace arus
