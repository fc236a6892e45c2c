// [global] admin_listen and watch_config: the forms accepted and every refusal, placed
// at its line.
#include "arus/config/admin_config.hpp"

#include <gtest/gtest.h>

#include "../support/config_text.hpp"
#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

using test::lines;

const std::string kRoute =
    lines({"[route:web]", "listen = 127.0.0.1:8080", "backend = 127.0.0.1:9001"});

Result<Config> parse(const std::string& global_lines, const std::string& path = "conf/p.conf") {
  return parse_config(lines({"[global]", global_lines}) + kRoute, path);
}

TEST(AdminConfig, OffByDefaultAndWatching) {
  Result<Config> c = parse_config(kRoute, "p.conf");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->global.admin.enabled());
  EXPECT_TRUE(c->global.admin.watch_config);
  Result<Config> off = parse("watch_config = off");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->global.admin.watch_config);
}

TEST(AdminConfig, UnixPathRelativeToTheConfigFolder) {
  Result<Config> c = parse("admin_listen = unix:run/admin.sock");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->global.admin.unix_path, "conf/run/admin.sock");
  EXPECT_TRUE(c->global.admin.address.empty());
  Result<Config> absolute = parse("admin_listen = unix:/run/arus/admin.sock");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->global.admin.unix_path, "/run/arus/admin.sock");
}

TEST(AdminConfig, LoopbackTcp) {
  for (const char* value : {"127.0.0.1:9091", "127.1.2.3:9091", "[::1]:9091"}) {
    Result<Config> c = parse(std::string("admin_listen = ") + value);
    ASSERT_TRUE(c.ok()) << value << ": " << c.error().message;
    EXPECT_TRUE(is_loopback(c->global.admin.address)) << value;
    EXPECT_TRUE(c->global.admin.unix_path.empty());
  }
}

TEST(AdminConfig, Refusals) {
  EXPECT_EQ(parse("admin_listen = 0.0.0.0:9091").error().message,
            "conf/p.conf:2: [global] admin_listen: '0.0.0.0:9091' is not a loopback address "
            "(the admin API has no authentication: use unix:PATH or 127.0.0.1:PORT)");
  EXPECT_EQ(parse("admin_listen = unix:").error().message,
            "conf/p.conf:2: [global] admin_listen: empty path after 'unix:'");
  EXPECT_NE(parse("admin_listen = unix:/" + std::string(150, 'a')).error().message.find(
                "socket path too long"),
            std::string::npos);
  EXPECT_EQ(parse("watch_config = maybe").error().message.rfind(
                "conf/p.conf:2: [global] watch_config: ", 0),
            0u);
  EXPECT_EQ(parse_config(lines({"[global]", "stats_listen = 127.0.0.1:9090",
                                "admin_listen = 127.0.0.1:9090"}) + kRoute, "p.conf")
                .error()
                .message,
            "p.conf:3: [global] admin_listen: same address as stats_listen (the stats listener "
            "never serves the admin API)");
  EXPECT_EQ(parse_config(lines({"[global]", "admin_listen = 127.0.0.1:8080"}) + kRoute, "p.conf")
                .error()
                .message,
            "p.conf:3: [route:web] listen address 127.0.0.1:8080 is also the admin_listen address");
}

}  // namespace
}  // namespace arus
