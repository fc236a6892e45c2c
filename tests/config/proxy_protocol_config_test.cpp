// Tests for the PROXY protocol route keys: defaults, every value, and errors naming
// file, line, section and key.
#include "arus/config/proxy_protocol_config.hpp"

#include <gtest/gtest.h>

#include "../support/config_text.hpp"
#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

using test::lines;

const std::string kRoute =
    lines({"[route:web]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"});

Result<Config> parse_route(const std::string& extra) {
  return parse_config(kRoute + extra, "proxy.conf");
}

std::string error_of(const std::string& extra) {
  Result<Config> r = parse_route(extra);
  return r ? "OK" : r.error().message;
}

TEST(ProxyProtocolConfig, OffByDefault) {
  Result<Config> c = parse_route("");
  ASSERT_TRUE(c.ok());
  const ProxyProtocolConfig& p = c->routes[0].proxy_protocol;
  EXPECT_FALSE(p.accept);
  EXPECT_EQ(p.header_timeout_ms, 3000u);
  EXPECT_EQ(p.send, SendProxy::kOff);
}

TEST(ProxyProtocolConfig, ReadsEveryKey) {
  Result<Config> c =
      parse_route(lines({"accept_proxy = on", "proxy_header_timeout_ms = 250", "send_proxy = v2"}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  const ProxyProtocolConfig& p = c->routes[0].proxy_protocol;
  EXPECT_TRUE(p.accept);
  EXPECT_EQ(p.header_timeout_ms, 250u);
  EXPECT_EQ(p.send, SendProxy::kV2);
  EXPECT_EQ(c->routes[0].key_lines.at("send_proxy"), 6);
  EXPECT_EQ(parse_send_proxy("v1").value(), SendProxy::kV1);
  EXPECT_EQ(parse_send_proxy("off").value(), SendProxy::kOff);
  EXPECT_EQ(send_proxy_name(SendProxy::kV2), "v2");
}

TEST(ProxyProtocolConfig, ErrorsNameFileLineSectionAndKey) {
  EXPECT_EQ(error_of(lines({"accept_proxy = maybe"})),
            "proxy.conf:4: [route:web] accept_proxy: 'maybe' is not a boolean (on/off, true/false, "
            "yes/no, 1/0)");
  EXPECT_EQ(error_of(lines({"send_proxy = v3"})),
            "proxy.conf:4: [route:web] send_proxy: 'v3' is not a PROXY protocol version "
            "(off, v1, v2)");
  EXPECT_EQ(error_of(lines({"send_proxy = V2"})),
            "proxy.conf:4: [route:web] send_proxy: 'V2' is not a PROXY protocol version "
            "(off, v1, v2)");
  EXPECT_EQ(error_of(lines({"proxy_header_timeout_ms = 0"})),
            "proxy.conf:4: [route:web] proxy_header_timeout_ms: 0 out of range (1-604800000)");
  EXPECT_EQ(error_of(lines({"proxy_header_timeout_ms = 604800001"})),
            "proxy.conf:4: [route:web] proxy_header_timeout_ms: 604800001 out of range "
            "(1-604800000)");
  EXPECT_EQ(error_of(lines({"send_proxy = v1", "send_proxy = v2"})),
            "proxy.conf:5: [route:web] send_proxy: given twice (first at line 4)");
  EXPECT_EQ(
      parse_config(lines({"[global]", "accept_proxy = on"}) + kRoute, "proxy.conf").error().message,
      "proxy.conf:2: [global] accept_proxy: unknown key");
}

}  // namespace
}  // namespace arus
