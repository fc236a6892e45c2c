// Connection state machine: read a PROXY header (accept_proxy), connect with retries and
// timeout, send a PROXY header (send_proxy), relay both directions, pass half-closes and
// resets on, and end through one finish() path with one access-log line. Choosing and
// connecting to a backend is in connection_connect.cpp, the PROXY header steps in
// connection_proxy_header.cpp, the wait for a backend slot in connection_queue.cpp.
#include "arus/relay/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <new>
#include <cstring>

#include <optional>

#include "arus/relay/access_log.hpp"
#include "arus/core/clock.hpp"
#include "arus/core/log.hpp"
#include "arus/net/socket.hpp"
#include "arus/net/tcp_reset.hpp"
#include "arus/plugin/filter_session.hpp"
#include "arus/relay/buffered_pump.hpp"

namespace arus {
namespace {

// Bytes one direction may move per wake-up before yielding to other connections.
constexpr size_t kPumpBudgetBytes = 1 << 20;

// How often a closing connection looks whether its last bytes were acknowledged. No
// epoll event says so; 10 ms is a fraction of a delayed ACK (40 ms on Linux).
constexpr uint64_t kResetPollMs = 10;

void release_pipe(Flow& flow, PipePool& pipes) noexcept {
  if (!flow.pipe.valid()) return;
  if (flow.pipe_bytes == 0) {
    pipes.release(std::move(flow.pipe));
  } else {
    pipes.discard(std::move(flow.pipe));  // never pool a pipe that still holds bytes
  }
  flow.pipe_bytes = 0;
}

}  // namespace

// A filtered route's per-connection filter state: the session (open/close of the
// filter) and one stage per direction while that direction is still filtered; a stage
// is dropped when the filter hands its direction back to splice.
struct Connection::FilterState {
  std::unique_ptr<FilterSession> session;  // declared first: the stages borrow it
  std::optional<FilterStage> to_backend;
  std::optional<FilterStage> to_client;
  uint64_t to_backend_hand_back_at = 0;  // flow bytes when handed back, for the debug log
  uint64_t to_client_hand_back_at = 0;
};

Connection::Connection(ConnectionHost& host) noexcept : host_(host) {}

Connection::~Connection() {
  if (state_ != State::kIdle && state_ != State::kClosed) finish(CloseReason::kShutdown);
}

void Connection::SideEvents::on_events(uint32_t events) noexcept {
  if (is_backend_) {
    connection_.on_backend_events(events);
  } else {
    connection_.on_client_events(events);
  }
}

void Connection::DeadlineTimer::on_timer() noexcept { connection_.on_deadline(); }

void Connection::start(UniqueFd client_fd, const SocketAddress& client_address,
                       const WorkerRoute& route, ConnectionGroup* group) noexcept {
  route_ = &route;
  group_ = group;
  id_ = host_.next_connection_id();
  client_address_ = client_address;
  client_.fd = std::move(client_fd);
  started_ms_ = host_.reactor().now_ms();
  last_activity_ms_ = started_ms_;
  tries_left_ = static_cast<int>(route.runtime->config.retries);
  const ProxyProtocolConfig& proxy_protocol = route.runtime->config.proxy_protocol;
  state_ = proxy_protocol.accept ? State::kReadingHeader : State::kConnecting;
  stats_add(route.stats->connections_active, 1);  // -1 in finish()
  // TCP_NODELAY: inherited from the listener (listen_tcp), no call per connection.
  // Registered once for everything, edge-triggered; bytes that arrive while we connect
  // stay in the kernel until the backend is there, so a retry loses nothing.
  if (host_.reactor().add(client_.fd.get(), Reactor::kAllEvents, &client_events_) != 0) {
    finish(CloseReason::kError);
    return;
  }
  if (state_ == State::kReadingHeader) {
    // No backend is chosen before the header names the client (source_hash needs it),
    // and none is connected to before it is whole: a bad header reaches no backend.
    // No read here: when the handshake's last ACK wakes accept, the header has mostly
    // not come yet (a recv would only say EAGAIN); when it has, the edge-triggered
    // registration above reports it (EPOLLIN) at the reactor's next wait.
    host_.reactor().timers().schedule(deadline_, started_ms_ + proxy_protocol.header_timeout_ms);
    return;
  }
  if (admit_client()) connect_next_backend(-1);
}

// Per-source and rate limits judge the client by its final address: after the PROXY
// header on an accept_proxy route, or at once.
bool Connection::admit_client() noexcept {
  if (!host_.admit_client(*this)) {
    finish(CloseReason::kLimit);
    return false;
  }
  source_admitted_ = true;
  return true;
}

void Connection::on_client_events(uint32_t events) noexcept {
  if (state_ == State::kClosed) return;  // a stale event from this batch
  if (events == Reactor::kResume) {
    resume_pending_ = false;
  } else {
    mark_ready(client_, events);
  }
  if (state_ == State::kReadingHeader) {
    if (client_.readable) read_proxy_header(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
    return;
  }
  drive();
}

void Connection::on_backend_events(uint32_t events) noexcept {
  if (state_ == State::kClosed) return;
  mark_ready(backend_, events);
  if (state_ == State::kConnecting) {
    // Writability ends a non-blocking connect; only with an error flag does SO_ERROR
    // need reading (one syscall less per connection in the common case).
    if (events & (EPOLLERR | EPOLLHUP)) {
      on_connect_result(socket_error(backend_.fd.get()));
    } else if (events & EPOLLOUT) {
      on_connect_result(0);
    }
    return;
  }
  drive();
}

void Connection::on_deadline() noexcept {
  if (state_ == State::kReadingHeader) {
    refuse_proxy_header("timed out");
    return;
  }
  if (state_ == State::kQueued) {
    stats_add(route_->stats->queue_timeouts);
    finish(CloseReason::kQueueTimeout);
    return;
  }
  if (state_ == State::kConnecting) {
    on_connect_failed(ETIMEDOUT, true);
    return;
  }
  if (state_ == State::kClosing) {
    poll_reset_hand_off();
    return;
  }
  if (state_ != State::kRelaying) return;
  uint64_t idle_ms = route_->runtime->config.idle_timeout_ms;
  if (idle_ms == 0) return;
  // Activity only stamps last_activity_ms_; the timer is re-armed lazily here, so a busy
  // connection costs no timer operation per chunk.
  uint64_t deadline = last_activity_ms_ + idle_ms;
  if (host_.reactor().now_ms() >= deadline) {
    finish(CloseReason::kIdleTimeout);
  } else {
    host_.reactor().timers().schedule(deadline_, deadline);
  }
}

ConnectionView Connection::view() const {
  ConnectionView v;
  v.id = id_;
  v.client = client_address_.to_string();
  if (route_ != nullptr && backend_index_ >= 0) {
    v.backend = route_->runtime->config.backends[static_cast<size_t>(backend_index_)].name;
  }
  if (filter_) v.path = filter_->to_backend && filter_->to_client ? "filter" : "handed_back";
  v.bytes_client_to_backend = to_backend_.bytes;
  v.bytes_backend_to_client = to_client_.bytes;
  v.started_ms = started_ms_;
  v.last_activity_ms = last_activity_ms_;
  return v;
}

bool Connection::open_filter() noexcept {
  const RouteRuntime& runtime = *route_->runtime;
  FilterConnInfo info{id_, runtime.config.name,
                      client_address_.to_string(),
                      runtime.config.backends[backend_index_].address.to_string()};
  auto session = FilterSession::open(runtime.filter, std::move(info));
  if (!session) {
    log::warn("filter_refused")
        .kv("route", runtime.config.name)
        .kv("client", client_address_.to_string())
        .kv("error", session.error().message);
    return false;
  }
  filter_ = std::make_unique<FilterState>();
  filter_->session = std::move(*session);
  filter_->to_backend.emplace(*filter_->session, ARUS_CLIENT_TO_BACKEND, host_.filter_buffers());
  filter_->to_client.emplace(*filter_->session, ARUS_BACKEND_TO_CLIENT, host_.filter_buffers());
  return true;
}

FilterStage* Connection::stage_of(const Flow& flow) noexcept {
  if (!filter_) return nullptr;
  std::optional<FilterStage>& stage = &flow == &to_backend_ ? filter_->to_backend
                                                             : filter_->to_client;
  return stage ? &*stage : nullptr;
}

PumpResult Connection::pump(Flow& flow) noexcept {
  const bool to_backend = &flow == &to_backend_;
  Endpoint& source = to_backend ? client_ : backend_;
  Endpoint& sink = to_backend ? backend_ : client_;
  flow.fin_by_close = (to_backend ? to_client_ : to_backend_).done();
  FilterStage* stage = stage_of(flow);
  if (stage == nullptr) return splice_pump(source, sink, flow, host_.pipes(), kPumpBudgetBytes);
  PumpResult buffered = buffered_pump(source, sink, flow, *stage, host_.pipes(), kPumpBudgetBytes);
  if (buffered.status != PumpStatus::kHandBack) return buffered;

  // The filter has seen enough of this direction: the rest moves by splice.
  (to_backend ? filter_->to_backend_hand_back_at : filter_->to_client_hand_back_at) = flow.bytes;
  (to_backend ? filter_->to_backend : filter_->to_client).reset();
  log::debug("filter_hand_back")
      .kv("route", route_->runtime->config.name)
      .kv("client", client_address_.to_string())
      .kv("direction", to_backend ? "client_to_backend" : "backend_to_client")
      .kv("filtered_bytes", flow.bytes);
  PumpResult spliced = splice_pump(source, sink, flow, host_.pipes(), kPumpBudgetBytes);
  spliced.moved += buffered.moved;
  return spliced;
}

void Connection::drive() noexcept {
  if (state_ != State::kRelaying) return;
  if (backend_header_pending() && !send_backend_header()) return;
  const uint64_t to_backend_before = to_backend_.bytes;
  const uint64_t to_client_before = to_client_.bytes;
  size_t moved = 0;
  size_t moved_to_backend = 0;
  bool yielded = false;
  std::optional<CloseReason> local_end;  // the filter or this host ended it

  // A failing side changes what the other direction must do (read what is left of the
  // failed side, deliver it, pass the reset on), so after a failure both pumps run again.
  // Each flow fails at most once reading and once writing: this ends within five rounds.
  for (bool again = true; again && !local_end;) {
    again = false;
    for (Flow* flow : {&to_backend_, &to_client_}) {
      if (!flow->active()) continue;
      PumpResult result = pump(*flow);
      moved += result.moved;
      const bool to_backend = flow == &to_backend_;
      if (to_backend) moved_to_backend += result.moved;
      switch (result.status) {
        case PumpStatus::kSourceError:
          on_side_failed(to_backend ? Side::kClient : Side::kBackend, result.error, true);
          again = true;
          break;
        case PumpStatus::kSinkError:
          on_side_failed(to_backend ? Side::kBackend : Side::kClient, result.error, false);
          again = true;
          break;
        case PumpStatus::kFilterClose:
          local_end = CloseReason::kFilter;
          break;
        case PumpStatus::kNoPipe:
          log::warn("no_pipe")
              .kv("route", route_->runtime->config.name)
              .kv("error", strerror(result.error));
          close_error_ = result.error;
          local_end = CloseReason::kError;
          break;
        case PumpStatus::kYield:
          yielded = true;
          break;
        default:
          break;
      }
      if (local_end) break;
    }
  }
  if (proxy_ && proxy_->backend_header_held) release_backend_header(moved_to_backend);
  count_bytes(to_backend_before, to_client_before);
  if (local_end) return finish(*local_end);

  if (to_backend_.bytes != to_backend_before || to_client_.bytes != to_client_before ||
      moved > 0) {
    last_activity_ms_ = host_.reactor().now_ms();
  }
  if (failed_side_ != Side::kNone) {
    // Everything the failed side sent is delivered (or cannot be): pass its reset on.
    if (!flow_from(failed_side_).active()) return pass_reset_on();
  } else {
    if (to_client_.source_eof && !to_backend_.source_eof) client_eof_first_ = false;
    if (to_backend_.done() && to_client_.done()) {
      return finish(client_eof_first_ ? CloseReason::kClientEof : CloseReason::kBackendEof);
    }
  }
  if (yielded && !resume_pending_) {
    resume_pending_ = true;
    host_.reactor().resume_later(&client_events_);
  }
}

// `side`'s socket failed (ECONNRESET, mostly), found `reading` from it or writing to it.
// Nothing more can reach it; what it sent before failing still goes to the other side,
// whose end is then a reset too (finish() closes it with RST), never a clean EOF.
void Connection::on_side_failed(Side side, int error, bool reading) noexcept {
  if (failed_side_ == Side::kNone) {
    failed_side_ = side;
    close_error_ = error;
  }
  flow_to(side).sink_failed = true;
  Flow& from = flow_from(side);
  from.source_reset = true;
  if (reading) {
    from.source_eof = true;
  } else {
    // A failed socket still holds what arrived before the reset; reading it yields
    // those bytes, then the error or EOF, never EAGAIN for long.
    endpoint(side).readable = true;
    endpoint(side).hangup = true;
    endpoint(side).failed = true;  // its end is a reset: no FIN is proved by arithmetic
  }
}

// The failed side's last bytes are written to the survivor. A reset discards what the
// survivor's peer has not acknowledged, so the close waits for that (kClosing), for at
// most the idle timeout without progress.
void Connection::pass_reset_on() noexcept {
  if (flow_from(failed_side_).sink_failed) return finish(reset_reason());  // both failed
  unacknowledged_ = unacknowledged_bytes(other_endpoint(failed_side_).fd.get());
  if (unacknowledged_ == 0) return finish(reset_reason());
  state_ = State::kClosing;
  last_activity_ms_ = host_.reactor().now_ms();
  host_.reactor().timers().schedule(deadline_, last_activity_ms_ + kResetPollMs);
}

void Connection::poll_reset_hand_off() noexcept {
  size_t unacknowledged = unacknowledged_bytes(other_endpoint(failed_side_).fd.get());
  uint64_t now = host_.reactor().now_ms();
  if (unacknowledged == 0) return finish(reset_reason());
  if (unacknowledged < unacknowledged_) {
    unacknowledged_ = unacknowledged;
    last_activity_ms_ = now;
  }
  uint64_t idle_ms = route_->runtime->config.idle_timeout_ms;
  if (idle_ms > 0 && now >= last_activity_ms_ + idle_ms) {
    return finish(reset_reason());  // the peer stopped reading: its unread bytes go too
  }
  host_.reactor().timers().schedule(deadline_, now + kResetPollMs);
}

// Two relaxed adds on this worker's own cache line per wake-up, not per chunk.
void Connection::count_bytes(uint64_t to_backend_before, uint64_t to_client_before) noexcept {
  if (to_backend_.bytes != to_backend_before) {
    stats_add(route_->stats->bytes_client_to_backend, to_backend_.bytes - to_backend_before);
  }
  if (to_client_.bytes != to_client_before) {
    stats_add(route_->stats->bytes_backend_to_client, to_client_.bytes - to_client_before);
  }
}

void Connection::release_backend_slot() noexcept {
  if (!backend_slot_held_) return;
  // Through the queue: a client waiting for this route may take the slot at once.
  route_->runtime->queue->release(*route_->runtime->backends[backend_index_].slots);
  backend_slot_held_ = false;
}

void Connection::finish(CloseReason reason) noexcept {
  if (state_ == State::kClosed || state_ == State::kIdle) return;
  Reactor& reactor = host_.reactor();
  reactor.timers().cancel(deadline_);
  if (state_ == State::kQueued) leave_queue();
  if (resume_pending_) {
    reactor.cancel_resume(&client_events_);
    resume_pending_ = false;
  }
  release_pipe(to_backend_, host_.pipes());
  release_pipe(to_client_, host_.pipes());
  // A failed side's reset reaches the other side as a reset, whatever ends it now.
  if (failed_side_ != Side::kNone) {
    Endpoint& survivor = other_endpoint(failed_side_);
    if (survivor.fd) reset_on_close(survivor.fd.get());
  }
  client_.fd.reset();
  backend_.fd.reset();
  release_backend_slot();
  if (backend_connected_) {
    stats_add((*route_->backend_stats)[backend_index_]->connections_active, -1);
    backend_connected_ = false;
  }
  if (reason == CloseReason::kIdleTimeout) stats_add(route_->stats->timeouts_idle);
  if (reason == CloseReason::kFilter) stats_add(route_->stats->filter_closed);
  if (reason == CloseReason::kProxyHeader) stats_add(route_->stats->proxy_header_errors);
  stats_add(route_->stats->connections_active, -1);
  state_ = State::kClosed;
  // Frees the connection's max_connections slots first: a client that sees this access
  // line and connects again must find the slot free.
  host_.on_connection_closed(*this);
  if (route_->access_log) write_access_line(reason);
  if (filter_) close_filter();
}

void Connection::write_access_line(CloseReason reason) const noexcept {
  const RouteConfig& config = route_->runtime->config;
  log_access(AccessRecord{
      .route = config.name,
      .client = &client_address_,
      .backend = backend_index_ >= 0 ? &config.backends[backend_index_].address : nullptr,
      .client_to_backend = to_backend_.bytes,
      .backend_to_client = to_client_.bytes,
      .duration_ms = host_.reactor().now_ms() - started_ms_,
      .reason = reason,
      .error = close_error_,
  });
}

// Ends the filter session (the filter's close()), after saying how many bytes of each
// handed-back direction moved by splice: the proof that hand-back really went zero-copy.
void Connection::close_filter() noexcept {
  if (!filter_->to_backend || !filter_->to_client) {
    log::debug("filter_spliced")
        .kv("route", route_->runtime->config.name)
        .kv("client", client_address_.to_string())
        .kv("client_to_backend",
            filter_->to_backend ? 0 : to_backend_.bytes - filter_->to_backend_hand_back_at)
        .kv("backend_to_client",
            filter_->to_client ? 0 : to_client_.bytes - filter_->to_client_hand_back_at);
  }
  filter_.reset();
}

void Connection::recycle() noexcept {
  route_ = nullptr;
  state_ = State::kIdle;
  resume_pending_ = false;
  client_eof_first_ = true;
  backend_slot_held_ = false;
  source_admitted_ = false;
  backend_connected_ = false;
  backend_index_ = -1;
  granted_index_ = -1;
  tries_left_ = 0;
  failed_side_ = Side::kNone;
  close_error_ = 0;
  unacknowledged_ = 0;
  if (proxy_) *proxy_ = ProxyHeaderState{};
  client_ = Endpoint{};
  backend_ = Endpoint{};
  to_backend_ = Flow{};
  to_client_ = Flow{};
  filter_.reset();
  group_ = nullptr;
}

}  // namespace arus
