// Tests for the checker's pure parts: the request bytes of each kind, and the spreading
// of checks over the interval.
#include <gtest/gtest.h>

#include <set>

#include "arus/health/health_checker.hpp"

namespace arus {
namespace {

HealthTarget target(HealthCheckKind kind) {
  HealthTarget t;
  t.route = "web";
  t.backend = "app.internal:8080";
  t.check.kind = kind;
  return t;
}

TEST(HealthCheckRequest, EachKind) {
  EXPECT_EQ(check_request(target(HealthCheckKind::kConnect)), "");
  EXPECT_EQ(check_request(target(HealthCheckKind::kRedis)), "PING\r\n");
  HealthTarget send = target(HealthCheckKind::kSendExpect);
  send.check.send = std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
  EXPECT_EQ(check_request(send), send.check.send);
  HealthTarget http = target(HealthCheckKind::kHttp);
  http.check.path = "/healthz";
  EXPECT_EQ(check_request(http),
            "GET /healthz HTTP/1.1\r\nHost: app.internal:8080\r\n"
            "User-Agent: arus-proxy-health-check\r\nConnection: close\r\n\r\n");
}

TEST(HealthCheckRequest, SendProxyPutsALocalHeaderFirst) {
  HealthTarget redis = target(HealthCheckKind::kRedis);
  redis.send_proxy = SendProxy::kV1;
  EXPECT_EQ(check_request(redis), "PROXY UNKNOWN\r\nPING\r\n");
  redis.send_proxy = SendProxy::kV2;
  // The v2 signature, version 2 command LOCAL (0x20), family UNSPEC, no address block.
  const std::string local_v2("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
  EXPECT_EQ(check_request(redis), local_v2 + "PING\r\n");
  HealthTarget connect = target(HealthCheckKind::kConnect);
  connect.send_proxy = SendProxy::kV2;
  EXPECT_EQ(check_request(connect), "") << "a connect check sends nothing";
}

TEST(HealthCheckSchedule, NextCheckIsAboutOneIntervalLaterOnItsPhase) {
  const uint64_t interval = 1000;
  for (uint64_t key : {0ull, 1ull, 499ull, 500ull, 999ull, 123456789ull}) {
    for (uint64_t started : {0ull, 10ull, 777ull, 1'000'000ull, 1'000'499ull}) {
      uint64_t next = next_check_ms(started, interval, key);
      EXPECT_GE(next, started + interval / 2) << key << " " << started;
      EXPECT_LT(next, started + interval * 3 / 2) << key << " " << started;
      // Its phase: one of 100 slots of 10 ms, so the checks of one slot share a wake-up.
      EXPECT_EQ(next % interval, key % 100 * 10);
      // Settled on its phase: every later check is exactly one interval after the last.
      EXPECT_EQ(next_check_ms(next, interval, key), next + interval);
    }
  }
}

TEST(HealthCheckSchedule, BackendsCheckedTogetherSpreadOverTheInterval) {
  // A thousand backends all checked at t = 5000 (start): their next checks fall in
  // many different 10 ms slots of the interval, not in one burst.
  std::set<uint64_t> slots;
  for (uint64_t i = 0; i < 1000; ++i) {
    uint64_t key = std::hash<std::string>{}("route\n10.0.0." + std::to_string(i) + ":5432");
    slots.insert(next_check_ms(5000, 1000, key) / 10);
  }
  EXPECT_GT(slots.size(), 90u);
}

TEST(HealthCheckSchedule, ShortIntervalsKeepOnePhasePerMillisecond) {
  // Fewer milliseconds than slots: every millisecond is a slot of its own.
  for (uint64_t key = 0; key < 200; ++key) {
    uint64_t next = next_check_ms(1000, 40, key);
    EXPECT_EQ(next % 40, key % 40);
    EXPECT_GE(next, 1020u);
    EXPECT_LT(next, 1060u);
  }
}

}  // namespace
}  // namespace arus
