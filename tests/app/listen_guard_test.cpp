// The listen guard over parsed configurations: a held route or stats address is refused
// with file, line, section and key; this process's own addresses are not probed at reload.
#include "arus/app/listen_guard.hpp"

#include <gtest/gtest.h>

#include <string>

#include "arus/config/ini_loader.hpp"
#include "arus/net/socket.hpp"

namespace arus {
namespace {

// A listener on a free loopback port, as another process holds it (SO_REUSEPORT: the
// case the kernel would otherwise share silently).
struct HeldPort {
  UniqueFd fd;
  uint16_t port = 0;
};

HeldPort hold_port() {
  Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
  EXPECT_TRUE(any.ok());
  Result<UniqueFd> fd = listen_tcp(any.value(), /*reuse_port=*/true, 4);
  EXPECT_TRUE(fd.ok()) << (fd ? "" : fd.error().message);
  if (!fd) return {};
  uint16_t port = local_address(fd->get()).port();
  return HeldPort{std::move(fd).value(), port};
}

Config config(const std::string& text) {
  Result<Config> parsed = parse_config(text, "proxy.conf");
  EXPECT_TRUE(parsed.ok()) << (parsed ? "" : parsed.error().message);
  return parsed ? std::move(parsed).value() : Config{};
}

std::string route(const std::string& name, const std::string& listen) {
  return "[route:" + name + "]\nlisten = " + listen + "\nbackend = 127.0.0.1:9\n";
}

std::string check(const Config& next, const Config* running) {
  Result<void> r = refuse_held_listen_addresses(next, running);
  return r ? "ok" : r.error().message;
}

TEST(ListenGuard, RefusesAHeldRouteAddressNamingTheListenKey) {
  HeldPort held = hold_port();
  std::string listen = "127.0.0.1:" + std::to_string(held.port);
  Config next = config("[global]\nworkers = 1\n\n" + route("web", listen));
  EXPECT_EQ(check(next, nullptr),
            "proxy.conf:5: [route:web] listen: " + listen + " already in use by another socket");
}

TEST(ListenGuard, RefusesAHeldStatsAddress) {
  HeldPort held = hold_port();
  std::string listen = "127.0.0.1:" + std::to_string(held.port);
  // The route (a configuration needs one) is on another loopback address: free.
  Config next = config("[global]\nworkers = 1\nstats_listen = " + listen + "\n" +
                       route("web", "127.0.0.2:" + std::to_string(held.port)));
  EXPECT_EQ(check(next, nullptr),
            "proxy.conf:3: [global] stats_listen: " + listen + " already in use by another socket");
}

// At reload the running listeners are ours: kept ones, and ones the reload will close
// (another route may take their address, or one that overlaps it).
TEST(ListenGuard, AtReloadOurOwnAddressesAreNotProbed) {
  HeldPort ours = hold_port();
  std::string port = std::to_string(ours.port);
  Config running = config(route("web", "127.0.0.1:" + port));
  EXPECT_EQ(check(config(route("web", "127.0.0.1:" + port)), &running), "ok");
  EXPECT_EQ(check(config(route("moved", "127.0.0.1:" + port)), &running), "ok");
  EXPECT_EQ(check(config(route("wide", "0.0.0.0:" + port)), &running), "ok");
  // Not ours at start: there is nothing running yet.
  EXPECT_NE(check(config(route("web", "127.0.0.1:" + port)), nullptr), "ok");
}

TEST(ListenKeys, RoutesInOrderThenStats) {
  Config c = config("[global]\nstats_listen = 127.0.0.1:9090\n" + route("a", "127.0.0.1:8080") +
                    route("b", "[::1]:8081"));
  std::vector<ListenKey> keys = listen_keys(c);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0].section + " " + keys[0].key + " " + std::to_string(keys[0].line),
            "[route:a] listen 4");
  EXPECT_EQ(keys[1].address.to_string(), "[::1]:8081");
  EXPECT_EQ(keys[2].section + " " + keys[2].key + " " + std::to_string(keys[2].line),
            "[global] stats_listen 2");
}

}  // namespace
}  // namespace arus
