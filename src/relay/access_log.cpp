// The access log line's one writer, for closed and refused connections alike.
#include "arus/relay/access_log.hpp"

#include <cstring>
#include <string>

#include "arus/core/log.hpp"

namespace arus {

void log_access(const AccessRecord& record) noexcept {
  std::string backend = record.backend != nullptr ? record.backend->to_string() : "-";
  log::Line line = log::info("access");
  line.kv("route", record.route)
      .kv("client", record.client->to_string())
      .kv("backend", backend)
      .kv("client_to_backend", record.client_to_backend)
      .kv("backend_to_client", record.backend_to_client)
      .kv("duration_ms", record.duration_ms)
      .kv("close", close_reason_name(record.reason));
  if (record.error != 0) {
    const char* name = strerrorname_np(record.error);  // "ECONNRESET"; null if unknown
    if (name != nullptr) line.kv("error", name); else line.kv("error", record.error);
  }
}

}  // namespace arus
