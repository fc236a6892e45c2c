// FilterSession: open()/close() of a filter's connection state, and the host side of
// arus_conn_info.log().
#include "arus/plugin/filter_session.hpp"

#include <cstring>
#include <string_view>

#include "arus/core/log.hpp"

namespace arus {

Result<std::unique_ptr<FilterSession>> FilterSession::open(FilterInstancePtr instance,
                                                           FilterConnInfo info) {
  auto session = std::make_unique<FilterSession>(Passkey(), std::move(instance), std::move(info));
  const arus_filter_api& api = session->instance_->api();
  void* conn_state = nullptr;
  if (api.open(session->instance_->route_state(), &session->conn_info_, &conn_state) != 0) {
    return Error{session->filter_path() + ": open failed"};  // no close() without open()
  }
  session->conn_state_ = conn_state;
  session->opened_ = true;
  return session;
}

FilterSession::FilterSession(Passkey, FilterInstancePtr instance, FilterConnInfo info) noexcept
    : instance_(std::move(instance)), info_(std::move(info)) {
  conn_info_.struct_size = sizeof(arus_conn_info);
  conn_info_.connection_id = info_.connection_id;
  conn_info_.route = info_.route.c_str();
  conn_info_.client = info_.client.c_str();
  conn_info_.backend = info_.backend.c_str();
  conn_info_.log = &FilterSession::host_log;
  conn_info_.host_data = this;
  conn_info_.host_features = ARUS_HOST_FORWARD;  // FilterStage takes FORWARD verdicts
}

FilterSession::~FilterSession() {
  if (opened_) instance_->api().close(conn_state_);
}

void FilterSession::host_log(const arus_conn_info* conn, int level, const char* message) noexcept {
  if (conn == nullptr || message == nullptr) return;
  auto* self = static_cast<FilterSession*>(conn->host_data);
  uint32_t n = self->log_lines_.fetch_add(1, std::memory_order_relaxed);
  if (n > kMaxLogLines) return;
  if (level < ARUS_LOG_ERROR || level > ARUS_LOG_DEBUG) level = ARUS_LOG_INFO;
  std::string_view text(message, ::strnlen(message, 1024));
  if (n == kMaxLogLines) {
    level = ARUS_LOG_WARN;
    text = "filter log limit reached; dropping its further lines for this connection";
  }
  log::Line(static_cast<log::Level>(level), "filter")
      .kv("filter", self->filter_path())
      .kv("route", self->info_.route)
      .kv("client", self->info_.client)
      .kv("conn", self->info_.connection_id)
      .kv("msg", text);
}

}  // namespace arus
