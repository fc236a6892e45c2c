// Tests of the checks before filters load: each refusal is placed at its key's line.
#include "arus/app/preflight.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "../plugin/filter_test_util.hpp"
#include "arus/config/ini_loader.hpp"

namespace arus {
namespace {

using testing::TempDir;
using testing::write_file;

// `text` is a [global] section; a route follows it (a configuration needs one).
Config parse(const std::string& text) {
  Result<Config> config = parse_config(
      text + "[route:web]\nlisten = 127.0.0.1:8080\nbackend = 127.0.0.1:9001\n", "p.conf");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config ? std::move(config).value() : Config{};
}

Config parse_whole(const std::string& text) {
  Result<Config> config = parse_config(text, "p.conf");
  EXPECT_TRUE(config.ok()) << config.error().message;
  return config ? std::move(config).value() : Config{};
}

// Lines: 1 [global], 2 plugin_dir (when given), 3 [route:web], ..., 6 filter.
std::string with_filter(const std::string& plugin_dir_line, const std::string& filter) {
  return "[global]\n" + plugin_dir_line + "\n[route:web]\nlisten = 127.0.0.1:8080\n" +
         "backend = 127.0.0.1:9001\nfilter = " + filter + "\n";
}

TEST(Preflight, UnknownUserOrGroupIsPlacedAtItsLine) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c :
       {Case{"[global]\nworkers = 1\nuser = arus-no-such-user\n",
             "p.conf:3: [global] user: user 'arus-no-such-user': no such user"},
        Case{"[global]\nuser = root\ngroup = arus-no-such-group\n",
             "p.conf:3: [global] group: group 'arus-no-such-group': no such group"}}) {
    auto identity = configured_identity(parse(c.text));
    ASSERT_FALSE(identity.ok()) << c.text;
    EXPECT_EQ(identity.error().message, c.error);
  }
}

TEST(Preflight, WithoutUserTheProcessIdentityCounts) {
  auto identity = configured_identity(parse("[global]\nworkers = 1\n"));
  ASSERT_TRUE(identity.ok()) << identity.error().message;
  EXPECT_EQ(identity->uid, geteuid());
  EXPECT_EQ(identity->gid, getegid());
}

TEST(Preflight, UnsafeFilterFileIsPlacedAtTheFilterLine) {
  TempDir dir;
  write_file(dir.file("open.so"), "not loaded: only checked");
  ASSERT_EQ(chmod(dir.file("open.so").c_str(), 0666), 0);
  Config config = parse_whole(with_filter("plugin_dir = " + dir.path(), "open.so"));
  auto checked = check_filter_sources(config, geteuid());
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message,
            "p.conf:6: [route:web] filter: " + dir.file("open.so") + ": refused: world-writable");
}

TEST(Preflight, UnsafeFolderIsPlacedAtPluginDirElseAtTheFirstFilter) {
  TempDir dir;
  write_file(dir.file("f.so"), "not loaded: only checked");
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  Config given_config = parse_whole(with_filter("plugin_dir = " + dir.path(), "f.so"));
  auto given = check_filter_sources(given_config, geteuid());
  ASSERT_FALSE(given.ok());
  EXPECT_EQ(given.error().message.rfind("p.conf:2: [global] plugin_dir: " + dir.path() +
                                            ": refused: " + dir.path() + " is world-writable",
                                        0),
            0u)
      << given.error().message;

  // Left at its default (c_plugins beside the file), the folder matters because of the
  // first filter.
  const std::string folder = dir.file("c_plugins");
  ASSERT_EQ(mkdir(folder.c_str(), 0700), 0);
  ASSERT_EQ(chmod(folder.c_str(), 0777), 0);
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  Result<Config> config = parse_config(with_filter("", "f.so"), dir.file("p.conf"));
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto defaulted = check_filter_sources(*config, geteuid());
  ASSERT_FALSE(defaulted.ok());
  EXPECT_EQ(defaulted.error().message.rfind(dir.file("p.conf") +
                                                ":6: [route:web] filter: plugin_dir " + folder +
                                                ": refused: " + folder + " is world-writable",
                                            0),
            0u)
      << defaulted.error().message;
}

TEST(Preflight, NoFilterNoCheck) {
  Config config = parse_whole("[global]\nplugin_dir = /nonexistent/arus\n[route:web]\n"
                        "listen = 127.0.0.1:8080\nbackend = 127.0.0.1:9001\n");
  auto checked = check_filter_sources(config, geteuid());
  EXPECT_TRUE(checked.ok()) << checked.error().message;
}

}  // namespace
}  // namespace arus
