// Parsing of a route's PROXY protocol keys.
#include "arus/config/proxy_protocol_config.hpp"

#include <string>

#include "arus/config/value_parsers.hpp"

namespace arus {
namespace {

constexpr uint64_t kMaxTimeoutMs = 604800000;  // 7 days, as every timeout

}  // namespace

bool is_proxy_protocol_key(std::string_view key) noexcept {
  return key == "accept_proxy" || key == "proxy_header_timeout_ms" || key == "send_proxy";
}

Result<void> set_proxy_protocol_key(ProxyProtocolConfig& config, std::string_view key,
                                    std::string_view value) {
  if (key == "accept_proxy") {
    Result<bool> on = parse_bool(value);
    if (!on) return Error{on.error().message};
    config.accept = on.value();
    return {};
  }
  if (key == "proxy_header_timeout_ms") {
    Result<uint64_t> ms = parse_uint(value, 1, kMaxTimeoutMs);
    if (!ms) return Error{ms.error().message};
    config.header_timeout_ms = ms.value();
    return {};
  }
  Result<SendProxy> send = parse_send_proxy(value);
  if (!send) return Error{send.error().message};
  config.send = send.value();
  return {};
}

Result<SendProxy> parse_send_proxy(std::string_view text) {
  if (text == "off") return SendProxy::kOff;
  if (text == "v1") return SendProxy::kV1;
  if (text == "v2") return SendProxy::kV2;
  return Error{"'" + std::string(text) + "' is not a PROXY protocol version (off, v1, v2)"};
}

std::string_view send_proxy_name(SendProxy mode) noexcept {
  switch (mode) {
    case SendProxy::kOff: return "off";
    case SendProxy::kV1: return "v1";
    case SendProxy::kV2: return "v2";
  }
  return "off";
}

}  // namespace arus
