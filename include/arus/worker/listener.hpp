// Listener: one worker's SO_REUSEPORT accept socket for one route. Accepts in bounded
// batches (an Acceptor); when descriptors run out it refuses pending clients at once
// (with a reserve descriptor) and retries on a timer instead of spinning. Worker thread
// only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arus/core/unique_fd.hpp"
#include "arus/net/acceptor.hpp"
#include "arus/net/address.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

// Where a listener hands accepted sockets.
class AcceptSink {
 public:
  virtual ~AcceptSink() = default;
  virtual void on_accept(size_t route_index, UniqueFd client_fd,
                         const SocketAddress& client_address) noexcept = 0;
  // Descriptors are exhausted: a pending client was accepted and closed at once.
  virtual void on_refused_no_descriptor(size_t route_index,
                                        const SocketAddress& client_address) noexcept = 0;
};

class Listener final : public EventHandler, public Timer, private AcceptHandler {
 public:
  // `reserve`: the worker's spare descriptor, shared by all its listeners.
  Listener(Reactor& reactor, AcceptSink& sink, DescriptorReserve& reserve, size_t route_index,
           UniqueFd fd, const SocketAddress& address);
  ~Listener() override;

  // Registers the socket with the reactor; returns an errno value, 0 on success.
  int arm() noexcept;

  const SocketAddress& address() const noexcept { return address_; }
  // A reload kept this socket for a route that now has another position.
  void set_route_index(size_t route_index) noexcept { route_index_ = route_index; }

  void on_events(uint32_t events) noexcept override;
  void on_timer() noexcept override;  // retry after descriptor exhaustion

 private:
  void accept_batch() noexcept;
  void on_accepted(UniqueFd client_fd, const SocketAddress& peer) noexcept override;
  void on_refused_no_descriptor(const SocketAddress& peer) noexcept override;
  void on_accept_error(int error) noexcept override;  // logs, paced when out of fds

  Reactor& reactor_;
  AcceptSink& sink_;
  size_t route_index_;
  UniqueFd fd_;
  SocketAddress address_;
  Acceptor acceptor_;
  bool resume_pending_ = false;  // a Reactor::resume_later call is outstanding
  uint64_t last_exhaustion_log_ms_ = 0;
};

}  // namespace arus
