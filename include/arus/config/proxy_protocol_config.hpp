// The PROXY protocol keys of a route (accept_proxy, proxy_header_timeout_ms, send_proxy)
// and their parsing. Plain data; the parser is stateless and safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "arus/core/result.hpp"

namespace arus {

enum class SendProxy : uint8_t { kOff, kV1, kV2 };

struct ProxyProtocolConfig {
  bool accept = false;                // accept_proxy: clients start with a PROXY header
  uint64_t header_timeout_ms = 3000;  // proxy_header_timeout_ms: the header's deadline
  SendProxy send = SendProxy::kOff;   // send_proxy: the header written to the backend

  bool operator==(const ProxyProtocolConfig&) const = default;
};

// True for the three keys above.
bool is_proxy_protocol_key(std::string_view key) noexcept;

// Sets one of the three keys. Errors are bare reasons; the loader adds file, line,
// section and key.
Result<void> set_proxy_protocol_key(ProxyProtocolConfig& config, std::string_view key,
                                    std::string_view value);

// off | v1 | v2.
Result<SendProxy> parse_send_proxy(std::string_view text);
std::string_view send_proxy_name(SendProxy mode) noexcept;

}  // namespace arus
