// Names of close reasons as written in the access log.
#include "arus/relay/close_reason.hpp"

namespace arus {

std::string_view close_reason_name(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::kClientEof: return "client_eof";
    case CloseReason::kBackendEof: return "backend_eof";
    case CloseReason::kClientReset: return "client_reset";
    case CloseReason::kBackendReset: return "backend_reset";
    case CloseReason::kIdleTimeout: return "idle_timeout";
    case CloseReason::kConnectFailed: return "connect_failed";
    case CloseReason::kLimit: return "limit";
    case CloseReason::kFilter: return "filter";
    case CloseReason::kShutdown: return "shutdown";
    case CloseReason::kError: return "error";
    case CloseReason::kProxyHeader: return "proxy_header";
    case CloseReason::kNoBackend: return "no_backend";
    case CloseReason::kAdmin: return "admin";
    case CloseReason::kQueueTimeout: return "queue_timeout";
  }
  return "error";
}

}  // namespace arus
