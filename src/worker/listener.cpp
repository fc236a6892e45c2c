// A route's accept socket on one worker: the Acceptor's batches, driven by the reactor.
#include "arus/worker/listener.hpp"

#include <cstring>

#include "arus/core/log.hpp"
#include "arus/net/local_shortage.hpp"

namespace arus {
namespace {

constexpr int kAcceptBatch = 64;                // then yield to other handlers
constexpr uint64_t kExhaustedRetryMs = 100;     // retry accepting after EMFILE
constexpr uint64_t kExhaustionLogEveryMs = 1000;

}  // namespace

Listener::Listener(Reactor& reactor, AcceptSink& sink, DescriptorReserve& reserve,
                   size_t route_index, UniqueFd fd, const SocketAddress& address)
    : reactor_(reactor),
      sink_(sink),
      route_index_(route_index),
      fd_(std::move(fd)),
      address_(address),
      acceptor_(&reserve) {}

Listener::~Listener() {
  if (resume_pending_) reactor_.cancel_resume(this);
  reactor_.timers().cancel(*this);
}

int Listener::arm() noexcept { return reactor_.add(fd_.get(), EPOLLIN | EPOLLET, this); }

void Listener::on_events(uint32_t events) noexcept {
  if (events & Reactor::kResume) resume_pending_ = false;
  accept_batch();
}

void Listener::on_timer() noexcept { accept_batch(); }

void Listener::accept_batch() noexcept {
  switch (acceptor_.accept_batch(fd_.get(), kAcceptBatch, *this)) {
    case Acceptor::End::kDrained:
      break;
    case Acceptor::End::kBatchFull:  // more may be pending: continue after the others
      // An event before the resume runs the batch anyway: ask once.
      if (!resume_pending_) {
        resume_pending_ = true;
        reactor_.resume_later(this);
      }
      break;
    case Acceptor::End::kRetryLater:
      reactor_.timers().schedule(*this, reactor_.now_ms() + kExhaustedRetryMs);
      break;
  }
}

void Listener::on_accepted(UniqueFd client_fd, const SocketAddress& peer) noexcept {
  sink_.on_accept(route_index_, std::move(client_fd), peer);
}

void Listener::on_refused_no_descriptor(const SocketAddress& peer) noexcept {
  sink_.on_refused_no_descriptor(route_index_, peer);
}

void Listener::on_accept_error(int error) noexcept {
  if (!is_local_shortage(error)) {
    log::error("accept_failed").kv("error", strerror(error));
    return;
  }
  uint64_t now = reactor_.now_ms();
  if (now - last_exhaustion_log_ms_ >= kExhaustionLogEveryMs || last_exhaustion_log_ms_ == 0) {
    last_exhaustion_log_ms_ = now;
    log::warn("accept_failed").kv("error", strerror(error)).kv("action", "refusing new clients");
  }
}

}  // namespace arus
