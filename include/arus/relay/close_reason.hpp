// Why a connection ended: the REASON of the access-log line (docs/operations.md, "While serving").
#pragma once

#include <cstdint>
#include <string_view>

namespace arus {

enum class CloseReason : uint8_t {
  kClientEof,      // both directions finished; the client closed first
  kBackendEof,     // both directions finished; the backend closed first
  kClientReset,    // the client's socket failed (RST, error)
  kBackendReset,   // the backend's socket failed (RST, error)
  kIdleTimeout,    // no byte either way for idle_timeout_ms
  kConnectFailed,  // every backend try failed or timed out
  kLimit,          // refused by a limit (connection caps, full backends without a
                   // queue, per-source and rate limits) or out of descriptors
  kFilter,         // the filter closed it, failed, or broke its contract
  kShutdown,       // the drain's grace period ran out
  kError,          // a local failure (e.g. no pipe, registration failed)
  kProxyHeader,    // accept_proxy: the PROXY header was missing, malformed or too slow
  kNoBackend,      // no backend up (active health checks): closed at once, nothing sent
  kAdmin,          // closed through the admin API (POST /connections/ID/close)
  kQueueTimeout,   // waited queue_timeout_ms for a backend slot in vain
};

std::string_view close_reason_name(CloseReason reason) noexcept;

}  // namespace arus
