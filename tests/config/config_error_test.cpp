// Tests of the configuration error format and of placing an error at a key's line.
#include "arus/config/config_error.hpp"

#include <gtest/gtest.h>

#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

TEST(ConfigError, LeavesOutWhatIsEmpty) {
  EXPECT_EQ(config_error("p.conf", 4, "[route:web]", "backend", "bad").message,
            "p.conf:4: [route:web] backend: bad");
  EXPECT_EQ(config_error("p.conf", 4, "[routes]", "", "unknown section").message,
            "p.conf:4: [routes] unknown section");
  EXPECT_EQ(config_error("p.conf", 2, "", "workers", "outside").message,
            "p.conf:2: workers: outside");
  EXPECT_EQ(config_error("p.conf", 0, "[global]", "plugin_dir", "refused").message,
            "p.conf: [global] plugin_dir: refused");
}

TEST(ConfigError, NamesTheKeysLineElseTheSectionsLine) {
  Result<Config> config = parse_config("[global]\n"                   // 1
                                       "workers = 1\n"                // 2
                                       "user = nobody\n"              // 3
                                       "[route:web]\n"                // 4
                                       "listen = 127.0.0.1:8080\n"    // 5
                                       "backend = 127.0.0.1:9001\n"   // 6
                                       "filter = x.so\n",             // 7
                                       "p.conf");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(global_key_error(*config, "user", "no such user").message,
            "p.conf:3: [global] user: no such user");
  EXPECT_EQ(global_key_error(*config, "plugin_dir", "refused").message,
            "p.conf:1: [global] plugin_dir: refused");
  const RouteConfig& web = config->routes.at(0);
  EXPECT_EQ(route_key_error(*config, web, "filter", "cannot load").message,
            "p.conf:7: [route:web] filter: cannot load");
  EXPECT_EQ(route_key_error(*config, web, "filter_args", "refused").message,
            "p.conf:4: [route:web] filter_args: refused");
}

}  // namespace
}  // namespace arus
