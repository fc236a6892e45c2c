// Tests for the configuration loader: defaults, every key, and one test per error with
// its full message (file, line, section, key, reason).
#include "arus/config/ini_loader.hpp"

#include <gtest/gtest.h>
#include <ini.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../support/config_text.hpp"

namespace arus {
namespace {

using test::lines;

Config must_parse(const std::string& text, const std::string& path = "proxy.conf") {
  Result<Config> r = parse_config(text, path);
  EXPECT_TRUE(r.ok()) << (r ? "" : r.error().message);
  return r ? std::move(r).value() : Config{};
}

// A route that is valid on its own, for tests about something else.
const std::string kRoute =
    lines({"[route:web]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"});

TEST(IniLoader, DefaultsForAMinimalRoute) {
  Config c = must_parse(kRoute);
  EXPECT_EQ(c.path, "proxy.conf");
  EXPECT_EQ(c.source, kRoute);
  EXPECT_EQ(c.global.workers, 0u);
  EXPECT_EQ(c.global.log_level, log::Level::kInfo);
  EXPECT_TRUE(c.global.access_log);
  EXPECT_EQ(c.global.stats_listen_name, "");
  EXPECT_TRUE(c.global.stats_listen.empty());
  EXPECT_EQ(c.global.plugin_dir, "./c_plugins");
  EXPECT_EQ(c.global.max_connections, 100000u);
  EXPECT_EQ(c.global.grace_period_ms, 10000u);
  EXPECT_EQ(c.global.user, "");
  EXPECT_EQ(c.global.group, "");
  ASSERT_EQ(c.routes.size(), 1u);
  const RouteConfig& r = c.routes[0];
  EXPECT_EQ(r.name, "web");
  EXPECT_EQ(r.line, 1);
  EXPECT_EQ(r.listen_name, "127.0.0.1:8080");
  EXPECT_EQ(r.key_lines.at("listen"), 2);
  EXPECT_EQ(r.listen.to_string(), "127.0.0.1:8080");
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(r.backends[0].name, "127.0.0.1:9001");
  EXPECT_EQ(r.backends[0].address.to_string(), "127.0.0.1:9001");
  EXPECT_EQ(r.backends[0].weight, 1u);
  EXPECT_EQ(r.backends[0].line, 3);
  EXPECT_EQ(r.balance, BalanceMode::kRoundRobin);
  EXPECT_EQ(r.filter, "");
  EXPECT_EQ(r.filter_args, "");
  EXPECT_EQ(r.connect_timeout_ms, 3000u);
  EXPECT_EQ(r.idle_timeout_ms, 300000u);
  EXPECT_EQ(r.retries, 2u);
  EXPECT_EQ(r.max_connections, 0u);
}

// Checks after loading (run user, filters, binding) name the line of the key at fault.
TEST(IniLoader, RecordsTheFirstLineOfEachKey) {
  Config c = must_parse(lines({"; comment",                   // 1
                               "[global]",                    // 2
                               "workers = 1",                 // 3
                               "",                            // 4
                               "user = nobody",               // 5
                               "[route:web]",                 // 6
                               "listen = 127.0.0.1:8080",     // 7
                               "backend = 127.0.0.1:9001",    // 8
                               "backend = 127.0.0.1:9002",    // 9
                               "  filter = filter.so"}));     // 10
  EXPECT_EQ(c.global.line, 2);
  EXPECT_EQ(c.global.key_lines, (KeyLines{{"workers", 3}, {"user", 5}}));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].key_lines,
            (KeyLines{{"listen", 7}, {"backend", 8}, {"filter", 10}}));

  Config no_global = must_parse(kRoute);
  EXPECT_EQ(no_global.global.line, 0);
  EXPECT_TRUE(no_global.global.key_lines.empty());
}

TEST(IniLoader, EveryKeyAccepted) {
  Config c = must_parse(lines({"[global]",
                               "workers = 1024",
                               "log_level = debug",
                               "access_log = off",
                               "stats_listen = 127.0.0.1:9090",
                               "plugin_dir = /opt/arus/plugins",
                               "max_connections = 10000000",
                               "grace_period_ms = 604800000",
                               "user = proxy",
                               "group = nogroup",
                               "[route:a]",
                               "listen = 127.0.0.1:8080",
                               "backend = 127.0.0.1:9001",
                               "backend = 127.0.0.2:9002 weight=3",
                               "backend = 127.0.0.3:9003\t weight=0",
                               "balance = least_conn",
                               "filter = filter.so",
                               "filter_args = upper block=Secret",
                               "connect_timeout_ms = 1",
                               "idle_timeout_ms = 0",
                               "retries = 100",
                               "max_connections = 10000000",
                               "[route:b]",
                               "listen = 127.0.0.1:8081",
                               "backend = 127.0.0.1:9001",
                               "balance = source_hash",
                               "connect_timeout_ms = 604800000",
                               "idle_timeout_ms = 604800000",
                               "retries = 0"}));
  EXPECT_EQ(c.global.workers, 1024u);
  EXPECT_EQ(c.global.log_level, log::Level::kDebug);
  EXPECT_FALSE(c.global.access_log);
  EXPECT_EQ(c.global.stats_listen_name, "127.0.0.1:9090");
  EXPECT_EQ(c.global.stats_listen.to_string(), "127.0.0.1:9090");
  EXPECT_EQ(c.global.key_lines.at("stats_listen"), 5);
  EXPECT_EQ(c.global.plugin_dir, "/opt/arus/plugins");
  EXPECT_EQ(c.global.max_connections, 10000000u);
  EXPECT_EQ(c.global.grace_period_ms, 604800000u);
  EXPECT_EQ(c.global.user, "proxy");
  EXPECT_EQ(c.global.group, "nogroup");
  ASSERT_EQ(c.routes.size(), 2u);
  const RouteConfig& a = c.routes[0];
  EXPECT_EQ(a.line, 11);
  EXPECT_EQ(a.key_lines.at("listen"), 12);
  ASSERT_EQ(a.backends.size(), 3u);
  EXPECT_EQ(a.backends[1].name, "127.0.0.2:9002");
  EXPECT_EQ(a.backends[1].weight, 3u);
  EXPECT_EQ(a.backends[1].line, 14);
  EXPECT_EQ(a.backends[2].name, "127.0.0.3:9003");
  EXPECT_EQ(a.backends[2].weight, 0u);
  EXPECT_EQ(a.balance, BalanceMode::kLeastConn);
  EXPECT_EQ(a.filter, "filter.so");
  EXPECT_EQ(a.filter_args, "upper block=Secret");
  EXPECT_EQ(a.connect_timeout_ms, 1u);
  EXPECT_EQ(a.idle_timeout_ms, 0u);
  EXPECT_EQ(a.retries, 100u);
  EXPECT_EQ(a.max_connections, 10000000u);
  const RouteConfig& b = c.routes[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.balance, BalanceMode::kSourceHash);
  EXPECT_EQ(b.connect_timeout_ms, 604800000u);
  EXPECT_EQ(b.idle_timeout_ms, 604800000u);
  EXPECT_EQ(b.retries, 0u);
}

TEST(IniLoader, SpecExampleParses) {
  Config c = must_parse(lines(
      {"[global]",
       "workers = 0                    ; 0 = one per online CPU",
       "log_level = info               ; error | warn | info | debug",
       "access_log = on                ; one line per closed connection",
       "stats_listen = 127.0.0.1:9090  ; HTTP stats endpoint; default empty = off",
       "plugin_dir = c_plugins         ; filters load only from here; relative paths are",
       "                               ; relative to the configuration file's folder",
       "max_connections = 100000       ; process-wide cap on client connections",
       "grace_period_ms = 10000        ; drain time after SIGTERM",
       "user =                         ; optional: bind as root, then run as this user",
       "group =                        ; optional: and this group (default: the user's)",
       "",
       "[route:web]                    ; one section per route: [route:NAME]",
       "listen = 127.0.0.1:8080        ; HOST:PORT or [IPv6]:PORT",
       "backend = 127.0.0.1:9001       ; repeat the key for several backends;",
       "backend = 127.0.0.1:9002 weight=3   ; optional weight (default 1)",
       "balance = round_robin          ; round_robin | least_conn | source_hash",
       "filter = filter.so             ; optional: a file in plugin_dir. No filter = splice path",
       "filter_args = upper            ; optional string handed to the filter's create()",
       "connect_timeout_ms = 3000",
       "idle_timeout_ms = 300000       ; close a connection with no bytes either way this long",
       "retries = 2                    ; other backends tried when a connect fails",
       "max_connections = 0            ; per-route cap, 0 = none"}));
  EXPECT_EQ(c.global.user, "");
  EXPECT_EQ(c.global.stats_listen_name, "127.0.0.1:9090");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].line, 13);
  ASSERT_EQ(c.routes[0].backends.size(), 2u);
  EXPECT_EQ(c.routes[0].backends[1].weight, 3u);
  EXPECT_EQ(c.global.plugin_dir, "./c_plugins");
  EXPECT_EQ(c.routes[0].filter, "filter.so");
  EXPECT_EQ(c.routes[0].filter_args, "upper");
}

TEST(IniLoader, Ipv6Addresses) {
  Config c = must_parse(
      lines({"[global]", "stats_listen = [::1]:9090", "[route:v6]", "listen = [::1]:8080",
             "backend = [::1]:9001 weight=2", "backend = [2001:db8::1]:9002"}));
  EXPECT_EQ(c.global.stats_listen.to_string(), "[::1]:9090");
  const RouteConfig& r = c.routes[0];
  EXPECT_EQ(r.listen.family(), AF_INET6);
  EXPECT_EQ(r.listen.to_string(), "[::1]:8080");
  EXPECT_EQ(r.backends[0].name, "[::1]:9001");
  EXPECT_EQ(r.backends[0].weight, 2u);
  EXPECT_EQ(r.backends[1].address.to_string(), "[2001:db8::1]:9002");
}

TEST(IniLoader, LocalhostResolves) {
  Config c =
      must_parse(lines({"[route:web]", "listen = localhost:8080", "backend = localhost:9001"}));
  EXPECT_EQ(c.routes[0].backends[0].name, "localhost:9001");
  EXPECT_EQ(c.routes[0].backends[0].address.port(), 9001);
  EXPECT_FALSE(c.routes[0].listen.empty());
}

TEST(IniLoader, PluginDirRelativeToConfigFolder) {
  EXPECT_EQ(must_parse(kRoute, "conf/proxy.conf").global.plugin_dir, "conf/c_plugins");
  EXPECT_EQ(must_parse(kRoute, "proxy.conf").global.plugin_dir, "./c_plugins");
  EXPECT_EQ(must_parse(kRoute, "/proxy.conf").global.plugin_dir, "/c_plugins");
  EXPECT_EQ(must_parse(kRoute, "/etc/arus/proxy.conf").global.plugin_dir, "/etc/arus/c_plugins");
  // Symlinked ConfigMap folders stay as given: "..data" is not resolved.
  EXPECT_EQ(must_parse(kRoute, "/cfg/..data/proxy.conf").global.plugin_dir,
            "/cfg/..data/c_plugins");
  std::string custom = lines({"[global]", "plugin_dir = ../plugins/"}) + kRoute + "filter = f.so\n";
  Config c = must_parse(custom, "conf/proxy.conf");
  EXPECT_EQ(c.global.plugin_dir, "conf/../plugins");
  EXPECT_EQ(must_parse(lines({"[global]", "plugin_dir = /abs"}) + kRoute, "conf/proxy.conf")
                .global.plugin_dir,
            "/abs");
  // plugin_dir may come after the routes that use it.
  Config late =
      must_parse(kRoute + "filter = f.so\n" + lines({"[global]", "plugin_dir = p"}), "a/b.conf");
  EXPECT_EQ(late.global.plugin_dir, "a/p");
}

TEST(IniLoader, LayoutLeniency) {
  // Indented keys, CRLF line ends, a UTF-8 BOM, comments of both kinds, ':' separators.
  Config c = must_parse(
      "\xEF\xBB\xBF# comment\r\n[global]\r\n  workers = 3\r\n\taccess_log = No\r\n"
      "; comment\r\n[route:web] ; trailing comment\r\n    listen = 127.0.0.1:8080\r\n"
      "    backend: 127.0.0.1:9001\r\n    filter_args = a;b\r\n    filter = f.so");
  EXPECT_EQ(c.global.workers, 3u);
  EXPECT_FALSE(c.global.access_log);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].line, 6);
  EXPECT_EQ(c.routes[0].backends[0].line, 8);
  EXPECT_EQ(c.routes[0].filter_args, "a;b");  // ';' only starts a comment after a space
}

TEST(IniLoader, RouteNamesMayHoldAnyCharacter) {
  Config c = must_parse(
      lines({"[route:we\"b \\x=1]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"}));
  EXPECT_EQ(c.routes[0].name, "we\"b \\x=1");
  // Longer than inih's own section buffer (50 bytes), which would truncate it.
  std::string long_name(120, 'n');
  Config l = must_parse(
      lines({"[route:" + long_name + "]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"}));
  EXPECT_EQ(l.routes[0].name, long_name);
}

TEST(IniLoader, BooleanSpellings) {
  for (const char* on : {"on", "true", "yes", "1", "ON", "True"}) {
    EXPECT_TRUE(must_parse(lines({"[global]", std::string("access_log = ") + on}) + kRoute)
                    .global.access_log);
  }
  for (const char* off : {"off", "false", "no", "0", "OFF"}) {
    EXPECT_FALSE(must_parse(lines({"[global]", std::string("access_log = ") + off}) + kRoute)
                     .global.access_log);
  }
}

TEST(IniLoader, LongestLineAccepted) {
  int limit = ini_max_line - 3;
  std::string key = "filter_args = ";
  std::string line = key + std::string(static_cast<size_t>(limit) - key.size(), 'x');
  Config c = must_parse(kRoute + "filter = f.so\n" + line + "\n");
  EXPECT_EQ(c.routes[0].filter_args.size(), static_cast<size_t>(limit) - key.size());
}

TEST(IniLoader, LoadsARealFile) {
  char dir_template[] = "/tmp/arus-ini-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  std::string path = dir + "/proxy.conf";
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::string text = kRoute + "filter = filter.so\n";
  std::fputs(text.c_str(), file);
  std::fclose(file);
  Result<Config> r = load_config_file(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, path);
  EXPECT_EQ(r->source, text);
  EXPECT_EQ(r->global.plugin_dir, dir + "/c_plugins");
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(IniLoader, MissingFile) {
  Result<Config> r = load_config_file("/nonexistent-arus/proxy.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/nonexistent-arus/proxy.conf: cannot read: No such file or directory");
}

TEST(IniLoader, DirectoryIsNotReadable) {
  Result<Config> r = load_config_file("/tmp");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "/tmp: cannot read: Is a directory");
}

}  // namespace
}  // namespace arus

namespace arus {
namespace {

// Issue 12 item 8: the reload path looks names up on a resolver thread through this
// hook, and a lookup that never answers is reported with the line and key asking.
TEST(IniLoader, NamesGoThroughTheCallersLookupToldTheLineAndKey) {
  std::vector<std::string> asked;
  NameLookup lookup = [&](const HostPort& host_port,
                          const std::string& where) -> Result<std::vector<SocketAddress>> {
    asked.push_back(where + host_port.host + ":" + std::to_string(host_port.port));
    return resolve_all(HostPort{"127.0.0.2", host_port.port});
  };
  Result<Config> r = parse_config(lines({"[global]", "stats_listen = stats.test:9090", "",
                                         "[route:web]", "listen = front.test:8080",
                                         "backend = app.test:9001 weight=3"}),
                                  "proxy.conf", lookup);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(asked, (std::vector<std::string>{
                       "proxy.conf:2: [global] stats_listen: stats.test:9090",
                       "proxy.conf:5: [route:web] listen: front.test:8080",
                       "proxy.conf:6: [route:web] backend: app.test:9001",
                   }));
  EXPECT_EQ(r->global.stats_listen.to_string(), "127.0.0.2:9090");
  EXPECT_EQ(r->routes[0].backends[0].address.to_string(), "127.0.0.2:9001");
  EXPECT_EQ(r->routes[0].backends[0].name, "app.test:9001");
}

TEST(IniLoader, ALookupErrorIsPlacedAtItsLine) {
  NameLookup lookup = [](const HostPort& host_port,
                         const std::string&) -> Result<std::vector<SocketAddress>> {
    return Error{"cannot resolve '" + host_port.host + "': Name or service not known"};
  };
  Result<Config> r = parse_config(kRoute + "backend = gone.test:1\n", "proxy.conf", lookup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "proxy.conf:2: [route:web] listen: cannot resolve '127.0.0.1': Name or service not "
            "known");
}

}  // namespace
}  // namespace arus
