// A reload takes over the running routes whose sections are written as before instead of
// parsing them (config/section_reuse.hpp, parse_config with a running configuration):
// what is taken over, what forces a parse, and that messages still name the right line.
#include "arus/config/section_reuse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arus/config/ini_loader.hpp"
#include "arus/config/route_sharing.hpp"
#include "arus/net/address.hpp"

#include "../support/config_text.hpp"

namespace arus {
namespace {

using test::lines;

// Records the line and key of every lookup: a section taken over asks for nothing.
struct CountingLookup {
  std::vector<std::string> asked;
  NameLookup lookup() {
    return [this](const HostPort& host_port,
                  const std::string& where) -> Result<std::vector<SocketAddress>> {
      asked.push_back(where);
      if (is_ip_literal(host_port.host)) return resolve_all(host_port);
      return resolve_all(HostPort{"127.0.0.2", host_port.port});
    };
  }
};

Config parse(const std::string& text, const std::string& path = "proxy.conf") {
  Result<Config> r = parse_config(text, path);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r ? std::move(*r) : Config{};
}

std::string route_text(const std::string& name, int port, int backend_port) {
  return lines({"[route:" + name + "]", "listen = 127.0.0.1:" + std::to_string(port),
                "backend = 127.0.0.1:" + std::to_string(backend_port) + " weight=2",
                "idle_timeout_ms = 1000", ""});
}

const std::string kGlobal = lines({"[global]", "log_level = warn", ""});

std::string three_routes(int second_backend_port) {
  return kGlobal + route_text("a", 8001, 9001) + route_text("b", 8002, second_backend_port) +
         route_text("c", 8003, 9003);
}

TEST(SectionReuse, UnchangedSectionsAreTheRunningRoutesAndOnlyTheChangedOneIsRead) {
  Config running = parse(three_routes(9002));
  CountingLookup names;
  Result<Config> next = parse_config(three_routes(9999), "proxy.conf", names.lookup(), &running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  ASSERT_EQ(next->routes.size(), 3u);
  EXPECT_EQ(next->routes.pointer(0), running.routes.pointer(0));
  EXPECT_EQ(next->routes.pointer(2), running.routes.pointer(2));
  EXPECT_NE(next->routes.pointer(1), running.routes.pointer(1));
  EXPECT_EQ(next->routes[1].backends[0].name, "127.0.0.1:9999");
  EXPECT_EQ(next->routes[1].backends[0].weight, 2u);
  EXPECT_EQ(next->routes[1].line, 9);
  EXPECT_EQ(next->routes[1].key_lines.at("backend"), 11);
  // Only [route:b]'s keys were looked up.
  EXPECT_EQ(names.asked, (std::vector<std::string>{"proxy.conf:10: [route:b] listen: ",
                                                   "proxy.conf:11: [route:b] backend: "}));
  EXPECT_EQ(next->source, three_routes(9999));
}

TEST(SectionReuse, TheResultIsWhatAFullParseGives) {
  Config running = parse(three_routes(9002));
  const std::string text = lines({"; a comment above moves every section down", ""}) +
                           kGlobal + route_text("c", 8003, 9003) + route_text("new", 8004, 9004) +
                           route_text("a", 8001, 9001) + route_text("b", 8002, 9002);
  Result<Config> reused = parse_config(text, "proxy.conf",
                                       [](const HostPort& h, const std::string&) {
                                         return resolve_all(h);
                                       },
                                       &running);
  ASSERT_TRUE(reused.ok()) << reused.error().message;
  Config full = parse(text);
  ASSERT_EQ(reused->routes.size(), full.routes.size());
  for (size_t i = 0; i < full.routes.size(); ++i) {
    const RouteConfig& a = reused->routes[i];
    const RouteConfig& b = full.routes[i];
    EXPECT_TRUE(same_route_settings(a, b)) << b.name;
    EXPECT_EQ(a.line, b.line) << b.name;
    EXPECT_EQ(a.key_lines, b.key_lines) << b.name;
    ASSERT_EQ(a.backends.size(), b.backends.size());
    for (size_t k = 0; k < a.backends.size(); ++k) EXPECT_EQ(a.backends[k].line, b.backends[k].line);
  }
  EXPECT_EQ(reused->global.log_level, full.global.log_level);
  EXPECT_EQ(reused->global.line, full.global.line);
}

TEST(SectionReuse, AMovedSectionIsTakenOverWithItsLinesShifted) {
  Config running = parse(three_routes(9002));
  CountingLookup names;
  // Two lines more in [route:a]: b and c move down by two.
  std::string text = kGlobal + route_text("a", 8001, 9001);
  text.insert(text.size() - 1, "retries = 3\nmax_connections = 7\n");
  text += route_text("b", 8002, 9002) + route_text("c", 8003, 9003);
  Result<Config> next = parse_config(text, "proxy.conf", names.lookup(), &running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(names.asked.size(), 2u);  // [route:a]'s listen and backend only
  const RouteConfig& b = next->routes[1];
  EXPECT_NE(next->routes.pointer(1), running.routes.pointer(1));  // its lines differ
  EXPECT_EQ(b.line, running.routes[1].line + 2);
  EXPECT_EQ(b.key_lines.at("listen"), running.routes[1].key_lines.at("listen") + 2);
  EXPECT_EQ(b.backends[0].line, running.routes[1].backends[0].line + 2);
  EXPECT_TRUE(same_route_settings(b, running.routes[1]));
  // The running route is untouched.
  EXPECT_EQ(running.routes[1].line, 9);
}

TEST(SectionReuse, AChangeInGlobalMakesEverySectionBeRead) {
  Config running = parse(three_routes(9002));
  for (const std::string& global :
       {lines({"[global]", "log_level = info", ""}), lines({"[global]", "plugin_dir = other", ""}),
        lines({"[global]", "log_level = warn", "; a comment", ""}), std::string()}) {
    CountingLookup names;
    const std::string text = global + route_text("a", 8001, 9001) +
                             route_text("b", 8002, 9002) + route_text("c", 8003, 9003);
    Result<Config> next = parse_config(text, "proxy.conf", names.lookup(), &running);
    ASSERT_TRUE(next.ok()) << next.error().message;
    EXPECT_EQ(names.asked.size(), 6u) << global;
    for (size_t i = 0; i < 3; ++i) EXPECT_NE(next->routes.pointer(i), running.routes.pointer(i));
  }
}

TEST(SectionReuse, AGlobalSectionAfterTheRoutesLetsOnlyTheRoutesAfterItBeTakenOver) {
  const std::string text = route_text("a", 8001, 9001) + kGlobal + route_text("b", 8002, 9002);
  Config running = parse(text);
  CountingLookup names;
  Result<Config> next = parse_config(text, "proxy.conf", names.lookup(), &running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_NE(next->routes.pointer(0), running.routes.pointer(0));
  EXPECT_EQ(next->routes.pointer(1), running.routes.pointer(1));
}

TEST(SectionReuse, WithoutGlobalInEitherFileSectionsAreTakenOver) {
  const std::string text = route_text("a", 8001, 9001) + route_text("b", 8002, 9002);
  Config running = parse(text);
  Result<Config> next = parse_config(
      text, "proxy.conf", [](const HostPort& h, const std::string&) { return resolve_all(h); },
      &running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->routes.pointer(0), running.routes.pointer(0));
  EXPECT_EQ(next->routes.pointer(1), running.routes.pointer(1));
}

TEST(SectionReuse, ASectionWithADnsNameIsReadAgainToLookItUp) {
  CountingLookup first;
  const std::string text = kGlobal + route_text("a", 8001, 9001) +
                           lines({"[route:named]", "listen = 127.0.0.1:8005",
                                  "backend = app.test:9005", ""}) +
                           lines({"[route:named_listen]", "listen = localhost:8006",
                                  "backend = 127.0.0.1:9006", ""});
  Result<Config> running = parse_config(text, "proxy.conf", first.lookup());
  ASSERT_TRUE(running.ok()) << running.error().message;
  CountingLookup names;
  Result<Config> next = parse_config(text, "proxy.conf", names.lookup(), &*running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->routes.pointer(0), running->routes.pointer(0));
  EXPECT_NE(next->routes.pointer(1), running->routes.pointer(1));
  EXPECT_NE(next->routes.pointer(2), running->routes.pointer(2));
  EXPECT_EQ(names.asked.size(), 4u);
}

TEST(SectionReuse, AnotherPathTakesNothingOver) {
  Config running = parse(three_routes(9002), "/etc/arus/proxy.conf");
  CountingLookup names;
  Result<Config> next = parse_config(three_routes(9002), "/etc/arus/other.conf", names.lookup(),
                                     &running);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(names.asked.size(), 6u);
}

// Errors after sections taken over name the line of the file, not of what was read.
TEST(SectionReuse, ErrorsInAChangedSectionNameTheirFileLine) {
  Config running = parse(three_routes(9002));
  auto error_of = [&](const std::string& text) {
    Result<Config> r = parse_config(
        text, "proxy.conf", [](const HostPort& h, const std::string&) { return resolve_all(h); },
        &running);
    return r ? std::string("OK") : r.error().message;
  };
  const std::string before = kGlobal + route_text("a", 8001, 9001) + route_text("b", 8002, 9002);
  // Line 14 is [route:c]'s header, 16 its backend.
  EXPECT_EQ(error_of(before + lines({"[route:c]", "listen = 127.0.0.1:8003",
                                     "backend = 127.0.0.1:9003 weight=999"})),
            "proxy.conf:16: [route:c] backend: weight 999 out of range (0-256)");
  // A line inih cannot read: its own count would miss the lines it was not given.
  EXPECT_EQ(error_of(before + lines({"[route:c]", "listen = 127.0.0.1:8003", "no equals sign"})),
            "proxy.conf:16: syntax error: expected 'key = value'");
  EXPECT_EQ(error_of(before + lines({"[route:c]", "listen = 127.0.0.1:8002",
                                     "backend = 127.0.0.1:9003"})),
            "proxy.conf:14: [route:c] listen address 127.0.0.1:8002 is already used by "
            "[route:b] (line 9)");
  EXPECT_EQ(error_of(before + lines({"[route:a]", "listen = 127.0.0.1:8003",
                                     "backend = 127.0.0.1:9003"})),
            "proxy.conf:14: [route:a] duplicate route name (first at line 4)");
  // A section taken over may be the one another route collides with, after it.
  EXPECT_EQ(error_of(kGlobal + lines({"[route:z]", "listen = 127.0.0.1:8002",
                                      "backend = 127.0.0.1:9000", ""}) +
                     route_text("a", 8001, 9001) + route_text("b", 8002, 9002)),
            "proxy.conf:13: [route:b] listen address 127.0.0.1:8002 is already used by "
            "[route:z] (line 4)");
  // The stats listener is [global]'s: changing it reads every section again.
  EXPECT_EQ(error_of(lines({"[global]", "stats_listen = 127.0.0.1:8001", ""}) +
                     route_text("a", 8001, 9001)),
            "proxy.conf:4: [route:a] listen address 127.0.0.1:8001 is also the stats_listen "
            "address");
}

TEST(SectionReuse, ASectionThatEndsTheFileWithoutANewlineIsComparedWhole) {
  const std::string text = kGlobal + "[route:a]\nlisten = 127.0.0.1:8001\nbackend = 127.0.0.1:900";
  Config running = parse(text);
  Result<Config> same = parse_config(
      text, "proxy.conf", [](const HostPort& h, const std::string&) { return resolve_all(h); },
      &running);
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_EQ(same->routes.pointer(0), running.routes.pointer(0));
  Result<Config> longer = parse_config(
      text + "2", "proxy.conf",
      [](const HostPort& h, const std::string&) { return resolve_all(h); }, &running);
  ASSERT_TRUE(longer.ok()) << longer.error().message;
  EXPECT_EQ(longer->routes[0].backends[0].name, "127.0.0.1:9002");
}

TEST(SectionReuse, SectionsEndAtTheNextLineTheLoaderReadsAsAHeader) {
  const std::string text = "[a]\nx = 1\n  ; [not a header]\n \t[b]\ny = [2]\n[c";
  EXPECT_EQ(next_section_start(text, 0), 0u);
  EXPECT_EQ(next_section_start(text, 4), text.find(" \t[b]"));
  EXPECT_EQ(next_section_start(text, text.find("y =")), text.find("[c"));
  EXPECT_EQ(next_section_start("x = 1\n", 0), 6u);
}

TEST(SectionReuse, ShiftedRouteMovesEveryLine) {
  Config c = parse(three_routes(9002));
  RouteConfig moved = shifted_route(c.routes[0], -2);
  EXPECT_EQ(moved.line, c.routes[0].line - 2);
  EXPECT_EQ(moved.key_lines.at("idle_timeout_ms"), c.routes[0].key_lines.at("idle_timeout_ms") - 2);
  EXPECT_EQ(moved.backends[0].line, c.routes[0].backends[0].line - 2);
}

}  // namespace
}  // namespace arus
