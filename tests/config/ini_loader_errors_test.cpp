// Tests for the configuration loader's errors: one per kind, each asserting the full
// message "FILE:LINE: [section] key: reason" an operator sees.
#include <gtest/gtest.h>
#include <ini.h>
#include <netdb.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "arus/config/ini_loader.hpp"
#include "arus/net/address.hpp"

#include "../support/config_text.hpp"
#include "../support/dns_probe.hpp"

namespace arus {
namespace {

using test::lines;

std::string error_of(const std::string& text, const std::string& path = "proxy.conf") {
  Result<Config> r = parse_config(text, path);
  return r ? "OK" : r.error().message;
}

// Lines 1-3: a valid route, so later lines can break one thing at a time.
const std::string kRoute =
    lines({"[route:web]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"});

std::string global_error(const std::string& key_line) {
  return error_of(lines({"[global]", key_line}));
}

std::string route_error(const std::string& key_line) { return error_of(kRoute + key_line + "\n"); }

TEST(IniLoaderErrors, UnknownSection) {
  EXPECT_EQ(error_of(kRoute + "[routes]\n"),
            "proxy.conf:4: [routes] unknown section (expected [global] or [route:NAME])");
  EXPECT_EQ(error_of("[Global]\n"),
            "proxy.conf:1: [Global] unknown section (expected [global] or [route:NAME])");
}

TEST(IniLoaderErrors, UnknownKey) {
  EXPECT_EQ(global_error("listen = 1"), "proxy.conf:2: [global] listen: unknown key");
  EXPECT_EQ(route_error("workers = 1"), "proxy.conf:4: [route:web] workers: unknown key");
  EXPECT_EQ(global_error("Workers = 1"), "proxy.conf:2: [global] Workers: unknown key");
}

TEST(IniLoaderErrors, KeyOutsideAnySection) {
  EXPECT_EQ(error_of(lines({"; comment", "workers = 1", "[global]"})),
            "proxy.conf:2: workers: key outside any section (expected after [global] or "
            "[route:NAME])");
}

TEST(IniLoaderErrors, DuplicateRouteName) {
  EXPECT_EQ(error_of(kRoute + lines({"[route:web]", "listen = 127.0.0.1:8081"})),
            "proxy.conf:4: [route:web] duplicate route name (first at line 1)");
}

TEST(IniLoaderErrors, DuplicateGlobal) {
  EXPECT_EQ(error_of(lines({"[global]", "workers = 1"}) + kRoute + "[global]\n"),
            "proxy.conf:6: [global] duplicate section (first at line 1)");
}

TEST(IniLoaderErrors, EmptyRouteName) {
  EXPECT_EQ(error_of("[route:]\n"),
            "proxy.conf:1: [route:] route name is empty (expected [route:NAME])");
}

TEST(IniLoaderErrors, KeyGivenTwice) {
  EXPECT_EQ(route_error("listen = 127.0.0.1:8081"),
            "proxy.conf:4: [route:web] listen: given twice (first at line 2)");
  EXPECT_EQ(error_of(lines({"[global]", "workers = 1", "", "workers = 1"})),
            "proxy.conf:4: [global] workers: given twice (first at line 2)");
}

TEST(IniLoaderErrors, BackendListedTwice) {
  EXPECT_EQ(route_error("backend = 127.0.0.1:9001 weight=2"),
            "proxy.conf:4: [route:web] backend: 127.0.0.1:9001 listed twice (first at line 3)");
}

TEST(IniLoaderErrors, RouteWithoutListen) {
  EXPECT_EQ(error_of(kRoute + lines({"", "[route:api]", "backend = 127.0.0.1:9001"})),
            "proxy.conf:5: [route:api] route has no 'listen'");
  // A section with no keys at all: inih never reports it, the reader does.
  EXPECT_EQ(error_of(kRoute + lines({"[route:empty]", "; nothing"})),
            "proxy.conf:4: [route:empty] route has no 'listen'");
}

TEST(IniLoaderErrors, RouteWithoutBackend) {
  EXPECT_EQ(error_of(lines({"[route:api]", "listen = 127.0.0.1:8080"}) + "[global]\n"),
            "proxy.conf:1: [route:api] route has no 'backend'");
}

// Issue 11 item 4: a file caught empty or half-written by an in-place rewrite has no route;
// applied at a reload it would close every listener.
TEST(IniLoaderErrors, Issue11ConfigurationWithoutRoutes) {
  EXPECT_EQ(error_of(""),
            "proxy.conf:1: the file is empty: a configuration needs at least one [route:NAME] "
            "section");
  // Cut off before the first route: the last line read is named.
  EXPECT_EQ(error_of(lines({"[global]", "workers = 1", "stats_listen = 127.0.0.1:9090"})),
            "proxy.conf:3: no [route:NAME] section up to the end of the file: a configuration "
            "needs at least one route");
  EXPECT_EQ(error_of("[global]\nworkers = 1"),  // no final newline: still line 2
            "proxy.conf:2: no [route:NAME] section up to the end of the file: a configuration "
            "needs at least one route");
  EXPECT_EQ(error_of("\n\n"),
            "proxy.conf:2: no [route:NAME] section up to the end of the file: a configuration "
            "needs at least one route");
  // An error while reading still comes first.
  EXPECT_EQ(error_of(lines({"[global]", "workers = x"})),
            "proxy.conf:2: [global] workers: 'x' is not a number (digits only)");
}

TEST(IniLoaderErrors, TwoRoutesOnOneAddress) {
  EXPECT_EQ(error_of(kRoute +
                     lines({"[route:api]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9002"})),
            "proxy.conf:4: [route:api] listen address 127.0.0.1:8080 is already used by "
            "[route:web] (line 1)");
  // Compared after resolution: "localhost" and its address are the same listener.
  Result<SocketAddress> localhost = resolve(HostPort{"localhost", 8080});
  ASSERT_TRUE(localhost.ok());
  EXPECT_EQ(
      error_of(lines({"[route:a]", "listen = localhost:8080", "backend = 127.0.0.1:1", "[route:b]",
                      "listen = " + localhost->to_string(), "backend = 127.0.0.1:1"})),
      "proxy.conf:4: [route:b] listen address " + localhost->to_string() +
          " is already used by [route:a] (line 1)");
}

TEST(IniLoaderErrors, RouteOnStatsAddress) {
  EXPECT_EQ(error_of(kRoute + lines({"[global]", "stats_listen = 127.0.0.1:8080"})),
            "proxy.conf:1: [route:web] listen address 127.0.0.1:8080 is also the "
            "stats_listen address");
}

TEST(IniLoaderErrors, OutOfRange) {
  EXPECT_EQ(global_error("workers = 1025"),
            "proxy.conf:2: [global] workers: 1025 out of range (0-1024)");
  EXPECT_EQ(global_error("max_connections = 0"),
            "proxy.conf:2: [global] max_connections: 0 out of range (1-10000000)");
  EXPECT_EQ(global_error("max_connections = 10000001"),
            "proxy.conf:2: [global] max_connections: 10000001 out of range (1-10000000)");
  EXPECT_EQ(global_error("grace_period_ms = 604800001"),
            "proxy.conf:2: [global] grace_period_ms: 604800001 out of range (0-604800000)");
  EXPECT_EQ(route_error("retries = 101"),
            "proxy.conf:4: [route:web] retries: 101 out of range (0-100)");
  EXPECT_EQ(route_error("max_connections = 10000001"),
            "proxy.conf:4: [route:web] max_connections: 10000001 out of range (0-10000000)");
  EXPECT_EQ(route_error("connect_timeout_ms = 0"),
            "proxy.conf:4: [route:web] connect_timeout_ms: 0 out of range (1-604800000)");
  EXPECT_EQ(route_error("connect_timeout_ms = 604800001"),
            "proxy.conf:4: [route:web] connect_timeout_ms: 604800001 out of range "
            "(1-604800000)");
  EXPECT_EQ(route_error("idle_timeout_ms = 604800001"),
            "proxy.conf:4: [route:web] idle_timeout_ms: 604800001 out of range (0-604800000)");
  // Overflowing uint64 is just another out-of-range value.
  EXPECT_EQ(route_error("retries = 99999999999999999999999"),
            "proxy.conf:4: [route:web] retries: 99999999999999999999999 out of range (0-100)");
}

TEST(IniLoaderErrors, MalformedNumbers) {
  EXPECT_EQ(global_error("workers = four"),
            "proxy.conf:2: [global] workers: 'four' is not a number (digits only)");
  EXPECT_EQ(route_error("retries = -1"),
            "proxy.conf:4: [route:web] retries: '-1' is not a number (digits only)");
  EXPECT_EQ(route_error("retries = +1"),
            "proxy.conf:4: [route:web] retries: '+1' is not a number (digits only)");
  EXPECT_EQ(route_error("connect_timeout_ms = 3s"),
            "proxy.conf:4: [route:web] connect_timeout_ms: '3s' is not a number (digits only)");
  EXPECT_EQ(route_error("idle_timeout_ms = 1.5"),
            "proxy.conf:4: [route:web] idle_timeout_ms: '1.5' is not a number (digits only)");
  EXPECT_EQ(global_error("grace_period_ms ="),
            "proxy.conf:2: [global] grace_period_ms: missing value (expected a number)");
}

TEST(IniLoaderErrors, BadBoolean) {
  EXPECT_EQ(global_error("access_log = maybe"),
            "proxy.conf:2: [global] access_log: 'maybe' is not a boolean (on/off, true/false, "
            "yes/no, 1/0)");
}

TEST(IniLoaderErrors, BadBalanceAndLogLevel) {
  EXPECT_EQ(route_error("balance = random"),
            "proxy.conf:4: [route:web] balance: unknown mode 'random' (expected round_robin, "
            "least_conn or source_hash)");
  EXPECT_EQ(global_error("log_level = verbose"),
            "proxy.conf:2: [global] log_level: unknown level 'verbose' (expected error, warn, "
            "info or debug)");
}

TEST(IniLoaderErrors, BadHostPort) {
  // The example in docs/configuration.md, on its line 14.
  std::string spec_like =
      lines({"[global]"}) + std::string(9, '\n') + kRoute + "backend = 127.0.0.1:70000\n";
  EXPECT_EQ(error_of(spec_like),
            "proxy.conf:14: [route:web] backend: port 70000 out of range (1-65535)");
  EXPECT_EQ(error_of(lines({"[route:web]", "listen = 127.0.0.1"})),
            "proxy.conf:2: [route:web] listen: missing port");
  EXPECT_EQ(error_of(lines({"[route:web]", "listen = 127.0.0.1:0"})),
            "proxy.conf:2: [route:web] listen: port 0 out of range (1-65535)");
  EXPECT_EQ(error_of(lines({"[route:web]", "listen ="})),
            "proxy.conf:2: [route:web] listen: missing address (expected HOST:PORT)");
  EXPECT_EQ(route_error("backend = [::1:9001"),
            "proxy.conf:4: [route:web] backend: bad brackets: missing ']'");
  EXPECT_EQ(route_error("backend = ::1:9001"),
            "proxy.conf:4: [route:web] backend: IPv6 address must be in brackets, e.g. "
            "[::1]:80");
  EXPECT_EQ(global_error("stats_listen = 127.0.0.1:http"),
            "proxy.conf:2: [global] stats_listen: port 'http' is not a number");
}

TEST(IniLoaderErrors, UnresolvableName) {
  if (!invalid_names_fail_fast()) GTEST_SKIP() << "resolver does not fail fast on .invalid";
  std::string message = route_error("backend = no-such-host.invalid:80");
  EXPECT_EQ(message.rfind("proxy.conf:4: [route:web] backend: cannot resolve "
                          "'no-such-host.invalid': ",
                          0),
            0u)
      << message;
}

TEST(IniLoaderErrors, BadBackendWeight) {
  EXPECT_EQ(route_error("backend = 127.0.0.1:9002 weight=257"),
            "proxy.conf:4: [route:web] backend: weight 257 out of range (0-256)");
  EXPECT_EQ(route_error("backend = 127.0.0.1:9002 weight=x"),
            "proxy.conf:4: [route:web] backend: weight 'x' is not a number (digits only)");
  EXPECT_EQ(route_error("backend = 127.0.0.1:9002 weight="),
            "proxy.conf:4: [route:web] backend: weight= without a number (expected weight=N)");
  EXPECT_EQ(route_error("backend = 127.0.0.1:9002 wieght=2"),
            "proxy.conf:4: [route:web] backend: unexpected 'wieght=2' after the address "
            "(expected weight=N or max_connections=N)");
  EXPECT_EQ(route_error("backend = 127.0.0.1:9002 weight=2 weight=3"),
            "proxy.conf:4: [route:web] backend: weight= given twice");
}

TEST(IniLoaderErrors, FilterNotAPlainFileName) {
  for (const char* name : {"../filter.so", "/usr/lib/filter.so", "sub/f.so", ".", ".."}) {
    EXPECT_EQ(route_error(std::string("filter = ") + name),
              std::string("proxy.conf:4: [route:web] filter: '") + name +
                  "' is not a plain file name (filters load only from plugin_dir)");
  }
}

TEST(IniLoaderErrors, FilterArgsWithoutFilter) {
  EXPECT_EQ(error_of(kRoute + lines({"filter_args = upper", "retries = 1"})),
            "proxy.conf:4: [route:web] filter_args: set without 'filter'");
}

TEST(IniLoaderErrors, EmptyPluginDir) {
  EXPECT_EQ(global_error("plugin_dir ="), "proxy.conf:2: [global] plugin_dir: empty path");
}

TEST(IniLoaderErrors, SyntaxErrors) {
  EXPECT_EQ(error_of(kRoute + "[route:api\n"),
            "proxy.conf:4: syntax error: section header without closing ']'");
  EXPECT_EQ(error_of(kRoute + "retries\n"), "proxy.conf:4: syntax error: expected 'key = value'");
  EXPECT_EQ(error_of(kRoute + "[route:api] junk\n"),
            "proxy.conf:4: syntax error: unexpected text after ']'");
}

TEST(IniLoaderErrors, ContinuationLinesAreRefused) {
  EXPECT_EQ(error_of(kRoute + lines({"filter = f.so", "filter_args = upper", "    sniff"})),
            "proxy.conf:6: syntax error: expected 'key = value' (continuation lines are not "
            "supported)");
  // An indented "HOST:PORT" reads as key "HOST"; say why it is not a continuation.
  EXPECT_EQ(error_of(kRoute + "    127.0.0.1:9002\n"),
            "proxy.conf:4: [route:web] 127.0.0.1: unknown key (an indented line does not "
            "continue the previous value)");
}

TEST(IniLoaderErrors, LineTooLong) {
  size_t limit = static_cast<size_t>(ini_max_line - 3);
  std::string line = "filter_args = " + std::string(limit, 'x');
  EXPECT_EQ(error_of(kRoute + line + "\n"),
            "proxy.conf:4: line too long (" + std::to_string(line.size()) +
                " characters, at most " + std::to_string(limit) + ")");
}

TEST(IniLoaderErrors, NulByte) {
  EXPECT_EQ(error_of(kRoute + std::string("retries = 1\0", 12) + "\n"),
            "proxy.conf:4: line contains a NUL byte");
}

TEST(IniLoaderErrors, FirstErrorInFileOrderWins) {
  // Two handler errors: the earlier line.
  EXPECT_EQ(error_of(lines({"[global]", "workers = x", "log_level = y"})),
            "proxy.conf:2: [global] workers: 'x' is not a number (digits only)");
  // An inih syntax error before a key error.
  EXPECT_EQ(error_of(lines({"[global]", "oops", "workers = x"})),
            "proxy.conf:2: syntax error: expected 'key = value'");
  // A key error before a syntax error.
  EXPECT_EQ(error_of(lines({"[global]", "workers = x", "oops"})),
            "proxy.conf:2: [global] workers: 'x' is not a number (digits only)");
  // Errors while reading come before whole-file checks, even on later lines.
  EXPECT_EQ(error_of(lines({"[route:a]", "listen = 127.0.0.1:1", "[route:b]", "bogus = 1"})),
            "proxy.conf:4: [route:b] bogus: unknown key");
  // Whole-file checks go in route order.
  EXPECT_EQ(error_of(lines({"[route:a]", "backend = 127.0.0.1:1", "[route:b]"})),
            "proxy.conf:1: [route:a] route has no 'listen'");
}

TEST(IniLoaderErrors, PathAsGivenInMessages) {
  EXPECT_EQ(error_of("[x]\n", "/etc/arus/proxy.conf"),
            "/etc/arus/proxy.conf:1: [x] unknown section (expected [global] or [route:NAME])");
}

TEST(IniLoaderErrors, GroupWithoutUser) {
  EXPECT_EQ(error_of(lines({"[global]", "workers = 1", "group = daemon"})),
            "proxy.conf:3: [global] group: set without 'user' (the group applies only when "
            "switching to a user)");
  EXPECT_EQ(error_of(lines({"[global]", "group = daemon", "user ="})),
            "proxy.conf:2: [global] group: set without 'user' (the group applies only when "
            "switching to a user)");
  EXPECT_EQ(error_of(lines({"[global]", "group = daemon", "user = nobody"}) + kRoute), "OK");
  EXPECT_EQ(error_of(lines({"[global]", "group ="}) + kRoute), "OK");
}

}  // namespace
}  // namespace arus
