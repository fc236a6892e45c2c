// Connection, the backend part: choose a backend (balancer, or the queue when all are at
// their cap), connect to it with a timeout, and on failure mark it and try the next one
// while tries are left. The rest of the state machine is in connection.cpp.
#include "arus/relay/connection.hpp"

#include <cstring>

#include "arus/balance/balancer.hpp"
#include "arus/core/log.hpp"
#include "arus/net/local_shortage.hpp"
#include "arus/net/socket.hpp"

namespace arus {
namespace {

// Backend lines name the backend as written; an address of a DNS name adds the address
// itself (a literal line's name is its address already).
log::Line& with_address(log::Line& line, const BackendConfig& backend) {
  if (backend.by_name) line.kv("address", backend.address.to_string());
  return line;
}

}  // namespace

void Connection::connect_next_backend(int avoid) noexcept {
  const RouteRuntime& runtime = *route_->runtime;
  // While clients wait for a slot, a newcomer queues behind them instead of taking one.
  int chosen = Balancer::kAllFull;
  if (runtime.queue->empty()) {
    uint64_t client_hash = hash_client_address(client_address_.ip_bytes());
    chosen = route_->balancer->acquire(runtime.backends.get(), runtime.backend_count,
                                       host_.reactor().now_ms(), client_hash, avoid);
  }
  if (chosen == Balancer::kNoneUp || chosen == Balancer::kAllDrained) {
    // None up (checks know them down) on the first pick: refused at once, never left
    // waiting on a connect to a dead backend. After a failed try, or every backend
    // drained: connect_failed, as before.
    bool refused = chosen == Balancer::kNoneUp && avoid < 0;
    finish(refused ? CloseReason::kNoBackend : CloseReason::kConnectFailed);
    return;
  }
  if (chosen == Balancer::kAllFull) {
    wait_for_slot();
    return;
  }
  backend_index_ = chosen;
  backend_slot_held_ = true;
  connect_to_backend();
}

// backend_index_ holds a slot: connect to it.
void Connection::connect_to_backend() noexcept {
  const RouteRuntime& runtime = *route_->runtime;
  uint64_t now = host_.reactor().now_ms();
  const BackendConfig& backend = runtime.config.backends[backend_index_];
  ConnectAttempt attempt = connect_tcp(backend.address);
  if (!attempt.fd && is_local_shortage(attempt.error)) {
    // Out of descriptors or memory here: no fault of the backend, so no back-off for it.
    log::warn("connect_failed")
        .kv("route", runtime.config.name)
        .kv("backend", backend.name)
        .kv("error", strerror(attempt.error));
    release_backend_slot();
    close_error_ = attempt.error;  // the access line says why: error=EMFILE
    if (is_out_of_descriptors(attempt.error)) {
      // No descriptor for the backend socket: refused like a client the listener has no
      // descriptor for (close=limit, arus_refused_total{reason="fds"}), only later.
      stats_add(route_->stats->refused_fds);
      finish(CloseReason::kLimit);
    } else {
      finish(CloseReason::kError);
    }
    return;
  }
  if (!attempt.fd) {
    on_connect_failed(attempt.error, false);
    return;
  }
  backend_.fd = std::move(attempt.fd);
  if (host_.reactor().add(backend_.fd.get(), Reactor::kAllEvents, &backend_events_) != 0) {
    finish(CloseReason::kError);
    return;
  }
  host_.reactor().timers().schedule(deadline_, now + runtime.config.connect_timeout_ms);
}

void Connection::on_connect_result(int error) noexcept {
  if (error != 0) {
    on_connect_failed(error, false);
    return;
  }
  const RouteRuntime& runtime = *route_->runtime;
  BackendShard& backend_stats = *(*route_->backend_stats)[backend_index_];
  stats_add(backend_stats.connections_total);
  stats_add(backend_stats.connections_active, 1);
  backend_connected_ = true;
  // The health object is shared with every generation that has this backend (and read
  // by arus_backend_up): a success here also ends a down state an older one recorded.
  if (runtime.backends[backend_index_].health->record_success()) {
    with_address(log::info("backend_up")
                     .kv("route", runtime.config.name)
                     .kv("backend", runtime.config.backends[backend_index_].name),
                 runtime.config.backends[backend_index_]);
  }
  if (runtime.filter && !open_filter()) {
    finish(CloseReason::kFilter);
    return;
  }
  if (!prepare_backend_header()) {
    finish(CloseReason::kError);
    return;
  }
  state_ = State::kRelaying;
  last_activity_ms_ = host_.reactor().now_ms();
  uint64_t idle_ms = runtime.config.idle_timeout_ms;
  if (idle_ms > 0) {
    host_.reactor().timers().schedule(deadline_, last_activity_ms_ + idle_ms);
  } else {
    host_.reactor().timers().cancel(deadline_);
  }
  drive();
}

void Connection::on_connect_failed(int error, bool timed_out) noexcept {
  const RouteRuntime& runtime = *route_->runtime;
  const BackendConfig& backend = runtime.config.backends[backend_index_];
  uint64_t now = host_.reactor().now_ms();
  with_address(
      log::warn("connect_failed").kv("route", runtime.config.name).kv("backend", backend.name),
      backend)
      .kv("error", timed_out ? "timed out" : strerror(error));
  stats_add((*route_->backend_stats)[backend_index_]->connect_errors_total);
  if (timed_out) stats_add(route_->stats->timeouts_connect);
  BackendHealth& health = *runtime.backends[backend_index_].health;
  if (health.record_failure(now)) {
    // The same line as the checker's (health/health_checker.cpp), reason first; without
    // active checks the back-off says when a client will probe it again.
    auto line = log::warn("backend_down");  // a named value: the line is written when it ends
    with_address(line.kv("route", runtime.config.name).kv("backend", backend.name), backend)
        .kv("reason", "connect_failed");
    if (!health.actively_checked()) {
      line.kv("retry_in_ms", health.down_until_ms() > now ? health.down_until_ms() - now : 0);
    }
  }
  host_.reactor().timers().cancel(deadline_);
  backend_ = Endpoint{};  // closing also unregisters it from epoll
  release_backend_slot();
  if (tries_left_-- > 0) {
    connect_next_backend(backend_index_);
  } else {
    finish(CloseReason::kConnectFailed);
  }
}

}  // namespace arus
