// Tests for the health_check* keys: the escape parser, each value's range, and the
// route-level rules, through the loader so the full "FILE:LINE: [section] key: reason"
// message is checked.
#include <gtest/gtest.h>

#include "arus/config/health_check_config.hpp"
#include "arus/config/ini_loader.hpp"

#include "../support/config_text.hpp"

namespace arus {
namespace {

using test::lines;

std::string escapes(std::string_view text) {
  Result<std::string> r = parse_c_escapes(text);
  return r ? *r : "ERROR: " + r.error().message;
}

TEST(HealthCheckEscapes, DecodesEachEscape) {
  EXPECT_EQ(escapes(""), "");
  EXPECT_EQ(escapes("PING\\r\\n"), "PING\r\n");
  EXPECT_EQ(escapes("a\\tb\\\\c"), "a\tb\\c");
  EXPECT_EQ(escapes("\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f"),
            std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8));
  EXPECT_EQ(escapes("\\xFFz"), "\xff" "z");
}

TEST(HealthCheckEscapes, RefusesBadEscapes) {
  EXPECT_EQ(escapes("abc\\"), "ERROR: ends with a lone '\\' (write \\\\ for a backslash)");
  EXPECT_EQ(escapes("\\q"), "ERROR: unknown escape '\\q' (expected \\r \\n \\t \\\\ or \\xHH)");
  EXPECT_EQ(escapes("\\x4"), "ERROR: \\x must be followed by two hex digits");
  EXPECT_EQ(escapes("\\xg0"), "ERROR: \\x must be followed by two hex digits");
}

const std::string kRoute =
    lines({"[route:db]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"});

std::string error_of(const std::string& extra) {
  Result<Config> r = parse_config(kRoute + extra, "proxy.conf");
  return r ? "OK" : r.error().message;
}

TEST(HealthCheckConfigLoad, DefaultsAreOff) {
  Result<Config> r = parse_config(kRoute, "proxy.conf");
  ASSERT_TRUE(r) << r.error().message;
  const HealthCheckConfig& check = r->routes[0].health_check;
  EXPECT_FALSE(check.enabled());
  EXPECT_EQ(check.interval_ms, 2000u);
  EXPECT_EQ(check.timeout_ms, 1000u);
  EXPECT_EQ(check.rise, 2u);
  EXPECT_EQ(check.fall, 3u);
  EXPECT_EQ(check.path, "/");
}

TEST(HealthCheckConfigLoad, ReadsEveryKey) {
  Result<Config> r = parse_config(
      kRoute + lines({"health_check = send_expect", "health_check_send = \\x00\\x01ok\\r\\n",
                      "health_check_expect = N", "health_check_interval_ms = 100",
                      "health_check_timeout_ms = 99", "health_check_rise = 1",
                      "health_check_fall = 100"}),
      "proxy.conf");
  ASSERT_TRUE(r) << r.error().message;
  const HealthCheckConfig& check = r->routes[0].health_check;
  EXPECT_EQ(check.kind, HealthCheckKind::kSendExpect);
  EXPECT_EQ(check.send, std::string("\x00\x01ok\r\n", 6));
  EXPECT_EQ(check.expect, "N");
  EXPECT_EQ(check.interval_ms, 100u);
  EXPECT_EQ(check.timeout_ms, 99u);
  EXPECT_EQ(check.rise, 1u);
  EXPECT_EQ(check.fall, 100u);
}

TEST(HealthCheckConfigLoad, HttpPath) {
  Result<Config> r = parse_config(
      kRoute + lines({"health_check = http", "health_check_path = /health?full=1"}),
      "proxy.conf");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->routes[0].health_check.kind, HealthCheckKind::kHttp);
  EXPECT_EQ(r->routes[0].health_check.path, "/health?full=1");
  EXPECT_EQ(error_of("health_check_path = health\n"),
            "proxy.conf:4: [route:db] health_check_path: 'health' must start with '/'");
}

TEST(HealthCheckConfigLoad, ValueErrorsNameTheLine) {
  EXPECT_EQ(error_of("health_check = ping\n"),
            "proxy.conf:4: [route:db] health_check: unknown check 'ping' (expected off, "
            "connect, send_expect, redis or http)");
  EXPECT_EQ(error_of("health_check_interval_ms = 99\n"),
            "proxy.conf:4: [route:db] health_check_interval_ms: 99 out of range (100-3600000)");
  EXPECT_EQ(error_of("health_check_interval_ms = 3600001\n"),
            "proxy.conf:4: [route:db] health_check_interval_ms: 3600001 out of range "
            "(100-3600000)");
  EXPECT_EQ(error_of("health_check_timeout_ms = 0\n"),
            "proxy.conf:4: [route:db] health_check_timeout_ms: 0 out of range (1-3600000)");
  EXPECT_EQ(error_of("health_check_rise = 0\n"),
            "proxy.conf:4: [route:db] health_check_rise: 0 out of range (1-100)");
  EXPECT_EQ(error_of("health_check_fall = 101\n"),
            "proxy.conf:4: [route:db] health_check_fall: 101 out of range (1-100)");
  EXPECT_EQ(error_of("health_check = send_expect\nhealth_check_send = \\z\n"),
            "proxy.conf:5: [route:db] health_check_send: unknown escape '\\z' (expected \\r \\n "
            "\\t \\\\ or \\xHH)");
}

TEST(HealthCheckConfigLoad, SendAndExpectOnlyWithSendExpect) {
  EXPECT_EQ(error_of("health_check = connect\nhealth_check_expect = +OK\n"),
            "proxy.conf:5: [route:db] health_check_expect: only with health_check = send_expect");
  EXPECT_EQ(error_of("health_check_send = PING\n"),
            "proxy.conf:4: [route:db] health_check_send: only with health_check = send_expect");
}

TEST(HealthCheckConfigLoad, SendExpectNeedsBoth) {
  EXPECT_EQ(error_of("health_check = send_expect\nhealth_check_send = PING\\r\\n\n"),
            "proxy.conf:4: [route:db] health_check: send_expect needs a non-empty "
            "health_check_expect");
  EXPECT_EQ(error_of("health_check = send_expect\nhealth_check_expect = +PONG\n"),
            "proxy.conf:4: [route:db] health_check: send_expect needs a non-empty "
            "health_check_send");
}

TEST(HealthCheckConfigLoad, TimeoutBelowInterval) {
  EXPECT_EQ(error_of("health_check = connect\nhealth_check_timeout_ms = 2000\n"),
            "proxy.conf:5: [route:db] health_check_timeout_ms: timeout 2000 ms must be below "
            "the interval (2000 ms)");
  // Only the interval written: its line is the one named.
  EXPECT_EQ(error_of("health_check = connect\nhealth_check_interval_ms = 500\n"),
            "proxy.conf:5: [route:db] health_check_interval_ms: timeout 1000 ms must be below "
            "the interval (500 ms)");
}

}  // namespace
}  // namespace arus
