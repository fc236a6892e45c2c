// The access log line: one per client connection, written when it closes or is refused.
// Stateless; safe from any thread (see log.hpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "arus/net/address.hpp"
#include "arus/relay/close_reason.hpp"

namespace arus {

// What one access line says. Borrows its strings and address for the call only.
struct AccessRecord {
  std::string_view route;
  const SocketAddress* client = nullptr;
  const SocketAddress* backend = nullptr;  // null: no backend was picked ("-")
  uint64_t client_to_backend = 0;          // bytes read from the client
  uint64_t backend_to_client = 0;          // bytes read from the backend
  uint64_t duration_ms = 0;
  CloseReason reason = CloseReason::kError;
  int error = 0;  // the errno behind the close, 0 for none
};

// Writes `record` at level info: route, client, backend, bytes each way, duration,
// close reason, and the error's name ("ECONNRESET") when there is one.
void log_access(const AccessRecord& record) noexcept;

}  // namespace arus
