// Acceptor: the accept loop every listening socket runs (a route's listener, the HTTP
// server's): batches of accept4, the errors that only mean "try the next one", and what
// to do when descriptors run out. Knows nothing of the reactor: its caller resumes or
// retries as accept_batch says. Not thread-safe: one thread uses it.
#pragma once

#include <cstdint>

#include "arus/core/unique_fd.hpp"
#include "arus/net/address.hpp"

namespace arus {

// Receives what one accept_batch call accepted. Borrowed for the call only.
class AcceptHandler {
 public:
  // A client, non-blocking and close-on-exec; the handler owns `client_fd`.
  virtual void on_accepted(UniqueFd client_fd, const SocketAddress& peer) noexcept = 0;
  // Out of descriptors: a pending client was accepted with the reserve and closed at once.
  virtual void on_refused_no_descriptor(const SocketAddress& peer) noexcept = 0;
  // accept4 failed with `error` (not EAGAIN, nor an aborted connection), before the
  // acceptor acts on it: for the handler's log line.
  virtual void on_accept_error(int error) noexcept = 0;

 protected:
  ~AcceptHandler() = default;
};

// One spare descriptor (/dev/null), given up when descriptors run out so that a pending
// client can be accepted and closed at once. One per thread serves every listener of that
// thread: one per listener would cost a descriptor per route per worker.
class DescriptorReserve {
 public:
  DescriptorReserve() noexcept { refill(); }
  bool held() const noexcept { return fd_.valid(); }
  void refill() noexcept;  // takes the spare again if it is not held (may fail: not held)
  void give_up() noexcept { fd_.reset(); }

 private:
  UniqueFd fd_;
};

class Acceptor {
 public:
  // How a batch ended.
  enum class End {
    kDrained,     // EAGAIN: nothing pending; wait for the next readiness edge
    kBatchFull,   // `max` tries made: more may be pending; resume after other handlers
    kRetryLater,  // accept failed (see on_accept_error) and edge-triggered readiness will
                  // not report the clients still waiting: try again on a timer
  };

  // With a `reserve` (borrowed: it outlives the acceptor; same thread), out of
  // descriptors the acceptor gives it up to accept a pending client and close it at once,
  // so clients are refused instead of waiting in the kernel's backlog. Without (null),
  // running out of descriptors ends the batch with kRetryLater.
  explicit Acceptor(DescriptorReserve* reserve) noexcept : reserve_(reserve) {}
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Up to `max` accept4 calls on `listen_fd` (non-blocking), reporting to `handler`.
  End accept_batch(int listen_fd, int max, AcceptHandler& handler) noexcept;

 private:
  enum class Refusal { kRefused, kNothingPending, kNoReserve };
  Refusal refuse_with_reserve(int listen_fd, AcceptHandler& handler) noexcept;

  DescriptorReserve* reserve_;  // null: none
};

}  // namespace arus
