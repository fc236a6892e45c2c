// Command-line parsing: every option, and the usage errors that exit 2.
#include "arus/app/options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace arus {
namespace {

Result<Options> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "arus-proxy");
  return parse_options(static_cast<int>(args.size()), const_cast<char* const*>(args.data()));
}

TEST(OptionsTest, DefaultsWithoutArguments) {
  auto options = parse({});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->config_path, "proxy.conf");
  EXPECT_FALSE(options->test_only);
  EXPECT_FALSE(options->workers.has_value());
  EXPECT_FALSE(options->log_level.has_value());
}

TEST(OptionsTest, ShortAndLongForms) {
  auto options = parse({"-c", "x.conf", "-t", "-w", "3", "-l", "debug"});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->config_path, "x.conf");
  EXPECT_TRUE(options->test_only);
  EXPECT_EQ(options->workers, 3u);
  EXPECT_EQ(options->log_level, log::Level::kDebug);

  auto long_options = parse({"--config=y.conf", "--workers", "0", "--log-level", "warn", "--test"});
  ASSERT_TRUE(long_options.ok());
  EXPECT_EQ(long_options->config_path, "y.conf");
  EXPECT_EQ(long_options->workers, 0u);
  EXPECT_EQ(long_options->log_level, log::Level::kWarn);
}

TEST(OptionsTest, DiffWithTest) {
  auto options = parse({"-t", "-c", "new.conf", "--diff", "old.conf"});
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->diff_path, "old.conf");
  EXPECT_FALSE(parse({"-t"})->diff_path.has_value());
  EXPECT_EQ(parse({"--diff", "old.conf"}).error().message, "--diff needs -t");
  EXPECT_EQ(parse({"-t", "--diff"}).error().message, "option '--diff' needs a value");
}

TEST(OptionsTest, HelpAndVersion) {
  EXPECT_TRUE(parse({"-h"})->help);
  EXPECT_TRUE(parse({"--version"})->version);
}

TEST(OptionsTest, UsageErrors) {
  EXPECT_EQ(parse({"-x"}).error().message, "unknown option '-x'");
  EXPECT_EQ(parse({"-l", "loud"}).error().message,
            "invalid --log-level 'loud' (expected error, warn, info or debug)");
  EXPECT_EQ(parse({"-w", "two"}).error().message, "invalid --workers 'two' (expected 0-1024)");
  EXPECT_EQ(parse({"-w", "5000"}).error().message, "invalid --workers '5000' (expected 0-1024)");
  EXPECT_EQ(parse({"-c"}).error().message, "option '-c' needs a value");
  EXPECT_EQ(parse({"stray"}).error().message, "unexpected argument 'stray'");
}

TEST(OptionsTest, UsageListsEveryOption) {
  std::string usage = usage_text();
  for (const char* option : {"--config", "--test", "--workers", "--log-level", "--help",
                             "--version"}) {
    EXPECT_NE(usage.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace arus
