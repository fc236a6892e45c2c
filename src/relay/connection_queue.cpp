// Connection, the backend queue part: waiting for a slot when every backend that is up is
// at its max_connections, and the hand-off when another worker frees one. The rest of
// the state machine is in connection.cpp.
#include "arus/relay/connection.hpp"

#include "arus/balance/balancer.hpp"
#include "arus/core/clock.hpp"

namespace arus {

// Every backend that is up is at its max_connections (or clients wait already).
void Connection::wait_for_slot() noexcept {
  const RouteRuntime& runtime = *route_->runtime;
  const uint64_t timeout_ms = runtime.config.limits.queue_timeout_ms;
  if (timeout_ms == 0) {  // no queue: refused at once
    stats_add(route_->stats->refused_backend_limit);
    finish(CloseReason::kLimit);
    return;
  }
  state_ = State::kQueued;
  ++queue_ticket_;
  int index = runtime.queue->take_or_wait(queue_ticket_link_);
  if (index >= 0) {  // a slot freed meanwhile
    state_ = State::kConnecting;
    backend_index_ = index;
    backend_slot_held_ = true;
    connect_to_backend();
    return;
  }
  // The client socket stays registered, but nothing reads it while queued: its bytes
  // wait in the kernel. No idle timer: the queue timeout replaces it.
  host_.reactor().timers().schedule(deadline_, host_.reactor().now_ms() + timeout_ms);
}

int Connection::QueueTicket::take_slot() noexcept {
  // route_ was set before the connection queued and stays until it leaves the queue.
  const RouteRuntime& runtime = *connection_.route_->runtime;
  return take_free_slot(runtime.backends.get(), runtime.backend_count, monotonic_ms());
}

void Connection::QueueTicket::on_slot_granted(int index) noexcept {
  connection_.granted_index_ = index;
  // The explicit cross-worker hand-off: the rest runs on the connection's own worker.
  // The ticket tells a stale task (the connection gave up and was reused) from this wait.
  Connection* connection = &connection_;
  uint64_t ticket = connection_.queue_ticket_;
  connection_.host_.reactor().post([connection, ticket] { connection->on_slot_granted(ticket); });
}

void Connection::on_slot_granted(uint64_t ticket) noexcept {
  // Closed meanwhile: finish() found the grant (cancel() said false) and gave it back.
  if (state_ != State::kQueued || ticket != queue_ticket_) return;
  host_.reactor().timers().cancel(deadline_);
  state_ = State::kConnecting;
  backend_index_ = granted_index_;
  backend_slot_held_ = true;
  connect_to_backend();
}

// A queued connection that closes: out of the queue, or, when a slot was granted
// already, that slot is now the connection's to give back.
void Connection::leave_queue() noexcept {
  if (!route_->runtime->queue->cancel(queue_ticket_link_)) {
    backend_index_ = granted_index_;
    backend_slot_held_ = true;
  }
}

}  // namespace arus
