// Tests of load_filter (every refusal with its message, private copies, versions,
// lifetime) and of FilterInstance/FilterSession. Test filters are compiled here as C.
#include "arus/plugin/plugin_loader.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "arus/plugin/filter_instance.hpp"
#include "arus/plugin/filter_session.hpp"
#include "filter_test_util.hpp"

namespace arus {
namespace {

using testing::compile_filter;
using testing::read_file;
using testing::StderrCapture;
using testing::TempDir;
using testing::write_file;

// Replaces every byte with TAG, so a test sees which build of the file runs. Macros
// make the broken variants: ABI, NO_ENTRY, NO_TRANSFORM.
constexpr const char* kProbeSource = R"C(
#include <stdio.h>
#include <string.h>
#include "arus/filter.h"
#ifndef TAG
#define TAG 'A'
#endif
#ifndef ABI
#define ABI ARUS_FILTER_ABI_VERSION
#endif
static int probe_create(const char* args, void** rs, char* error, size_t error_size) {
  if (strcmp(args, "bad") == 0) {
    snprintf(error, error_size, "probe does not like '%s'", args);
    return -1;
  }
  *rs = NULL;
  return 0;
}
static void probe_destroy(void* rs) { (void)rs; }
static int probe_open(void* rs, const struct arus_conn_info* conn, void** cs) {
  (void)rs;
  conn->log(conn, ARUS_LOG_INFO, "probe open");
  *cs = (void*)conn;
  return 0;
}
static void probe_close(void* cs) {
  const struct arus_conn_info* conn = cs;
  conn->log(conn, ARUS_LOG_INFO, "probe close");
}
static int probe_transform(void* cs, int direction, const uint8_t* in, size_t in_len,
                           uint8_t* out, size_t out_cap, size_t* in_used, size_t* out_len,
                           uint32_t flags) {
  size_t n = in_len < out_cap ? in_len : out_cap;
  (void)cs; (void)direction; (void)in; (void)flags;
  memset(out, TAG, n);
  *in_used = n;
  *out_len = n;
  return ARUS_FILTER_CONTINUE;
}
static const struct arus_filter_api probe_api = {
  ABI, sizeof(struct arus_filter_api), "probe", probe_create, probe_destroy, probe_open,
  probe_close,
#ifdef NO_TRANSFORM
  NULL
#else
  probe_transform
#endif
};
#ifdef NO_ENTRY
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry_v0(void) { return &probe_api; }
#else
ARUS_FILTER_EXPORT const struct arus_filter_api* arus_filter_entry(void) { return &probe_api; }
#endif
)C";

class PluginLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  // Builds the probe as `name` in the plugin dir.
  void build(const std::string& name, const std::string& defines = "") {
    std::string error = compile_filter(dir_.path(), name, kProbeSource, defines);
    ASSERT_EQ(error, "");
  }
  std::string path(const std::string& name) const { return dir_.file(name); }

  // Runs one chunk through a session of `plugin` and returns the output.
  static std::string run(const std::shared_ptr<const FilterPlugin>& plugin, const std::string& in) {
    auto instance = FilterInstance::create(plugin, "");
    EXPECT_TRUE(instance.ok());
    if (!instance.ok()) return "";
    StderrCapture quiet;  // probe_open/close log lines
    auto session = FilterSession::open(*instance, FilterConnInfo{1, "r", "c", "b"});
    EXPECT_TRUE(session.ok());
    if (!session.ok()) return "";
    std::string out(in.size(), '\0');
    size_t used = 0;
    size_t written = 0;
    int verdict = (*session)->transform(
        ARUS_CLIENT_TO_BACKEND, reinterpret_cast<const uint8_t*>(in.data()), in.size(),
        reinterpret_cast<uint8_t*>(out.data()), out.size(), &used, &written, 0);
    EXPECT_EQ(verdict, ARUS_FILTER_CONTINUE);
    out.resize(written);
    return out;
  }

  TempDir dir_;
};

TEST_F(PluginLoaderTest, LoadsAGoodFilter) {
  build("good.so");
  auto plugin = load_filter(dir_.path(), "good.so");
  ASSERT_TRUE(plugin.ok()) << plugin.error().message;
  EXPECT_STREQ((*plugin)->name(), "probe");
  EXPECT_EQ((*plugin)->display_path(), path("good.so"));
  char real[PATH_MAX];
  ASSERT_NE(::realpath(path("good.so").c_str(), real), nullptr);
  EXPECT_EQ((*plugin)->source_path(), real);
  EXPECT_EQ(run(*plugin, "hello"), "AAAAA");
}

TEST_F(PluginLoaderTest, RefusesAMissingFile) {
  auto plugin = load_filter(dir_.path(), "nope.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, path("nope.so") + ": cannot open: No such file or directory");
}

TEST_F(PluginLoaderTest, RefusesAMissingPluginDir) {
  auto plugin = load_filter(dir_.file("absent"), "good.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, dir_.file("absent/good.so") + ": plugin_dir " +
                                        dir_.file("absent") + ": No such file or directory");
}

TEST_F(PluginLoaderTest, RefusesFilesOutsidePluginDir) {
  ASSERT_EQ(::mkdir(path("plugins").c_str(), 0755), 0);
  build("outside.so");
  const std::string plugins = path("plugins");

  auto dotdot = load_filter(plugins, "../outside.so");
  ASSERT_FALSE(dotdot.ok());
  EXPECT_NE(dotdot.error().message.find(plugins + "/../outside.so: refused: outside plugin_dir"),
            std::string::npos)
      << dotdot.error().message;

  auto absolute = load_filter(plugins, path("outside.so"));
  ASSERT_FALSE(absolute.ok());
  EXPECT_NE(absolute.error().message.find(": refused: outside plugin_dir"), std::string::npos);

  // A symlink inside plugin_dir is judged by where it leads.
  ASSERT_EQ(::symlink(path("outside.so").c_str(), (plugins + "/link.so").c_str()), 0);
  auto link = load_filter(plugins, "link.so");
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.error().message.find(plugins + "/link.so: refused: outside plugin_dir"),
            std::string::npos)
      << link.error().message;

  // ... and one that stays inside is fine.
  ASSERT_EQ(::rename(path("outside.so").c_str(), (plugins + "/inside.so").c_str()), 0);
  ASSERT_EQ(::symlink("inside.so", (plugins + "/alias.so").c_str()), 0);
  auto alias = load_filter(plugins, "alias.so");
  EXPECT_TRUE(alias.ok()) << alias.error().message;
}

TEST_F(PluginLoaderTest, RefusesAWorldWritableFile) {
  build("open.so");
  ASSERT_EQ(::chmod(path("open.so").c_str(), 0666), 0);
  auto plugin = load_filter(dir_.path(), "open.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, path("open.so") + ": refused: world-writable");
}

TEST_F(PluginLoaderTest, RefusesAFileOfAnotherUser) {
  build("theirs.so");
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  ASSERT_EQ(::chown(path("theirs.so").c_str(), 65534, 65534), 0);
  auto plugin = load_filter(dir_.path(), "theirs.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message,
            path("theirs.so") + ": refused: owned by uid 65534, neither the proxy's user (uid " +
                std::to_string(::geteuid()) + ") nor root");
}

// Issue 12: root:nogroup 0664 passed, and any member of nogroup could rewrite the code.
TEST_F(PluginLoaderTest, RefusesAFileWritableByAGroupOtherThanRoots) {
  build("shared.so");
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file another group";
  ASSERT_EQ(::chown(path("shared.so").c_str(), 0, 65534), 0);
  ASSERT_EQ(::chmod(path("shared.so").c_str(), 0664), 0);
  auto plugin = load_filter(dir_.path(), "shared.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message,
            path("shared.so") +
                ": refused: group-writable by gid 65534 (only root's group, gid 0, may write)");
  ASSERT_EQ(::chown(path("shared.so").c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod(path("shared.so").c_str(), 0664), 0);
  auto roots = load_filter(dir_.path(), "shared.so");
  EXPECT_TRUE(roots.ok()) << roots.error().message;
}

// check_filter_file judges for the given user, not the one running the check (-t as root
// for a proxy that will run as another user).
TEST_F(PluginLoaderTest, CheckFilterFileJudgesForTheRunUser) {
  build("mine.so");
  const uid_t me = ::geteuid();
  const uid_t other = me == 65534 ? 65533 : 65534;
  auto as_me = check_filter_file(dir_.path(), "mine.so", me);
  EXPECT_TRUE(as_me.ok()) << as_me.error().message;
  if (me == 0) return;  // root's files are fine for every run user
  auto as_other = check_filter_file(dir_.path(), "mine.so", other);
  ASSERT_FALSE(as_other.ok());
  EXPECT_EQ(as_other.error().message,
            path("mine.so") + ": refused: owned by uid " + std::to_string(me) +
                ", neither the proxy's user (uid " + std::to_string(other) + ") nor root");
}

TEST_F(PluginLoaderTest, CheckFilterFileNamesTheSameRefusalsAsLoading) {
  build("open.so");
  ASSERT_EQ(::chmod(path("open.so").c_str(), 0666), 0);
  auto checked = check_filter_file(dir_.path(), "open.so", ::geteuid());
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message, path("open.so") + ": refused: world-writable");
  auto missing = check_filter_file(dir_.path(), "absent.so", ::geteuid());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            path("absent.so") + ": cannot open: No such file or directory");
}

TEST_F(PluginLoaderTest, RefusesWhatIsNotARegularFile) {
  ASSERT_EQ(::mkdir(path("dir.so").c_str(), 0755), 0);
  auto directory = load_filter(dir_.path(), "dir.so");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().message, path("dir.so") + ": refused: not a regular file");

  // A FIFO must be refused, not block the loader in open().
  ASSERT_EQ(::mkfifo(path("fifo.so").c_str(), 0644), 0);
  auto fifo = load_filter(dir_.path(), "fifo.so");
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.error().message, path("fifo.so") + ": refused: not a regular file");
}

TEST_F(PluginLoaderTest, RefusesAFileTheLinkerRejects) {
  write_file(path("text.so"), "not an ELF file\n");
  auto plugin = load_filter(dir_.path(), "text.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message.rfind(path("text.so") + ": cannot load: ", 0), 0u)
      << plugin.error().message;
}

TEST_F(PluginLoaderTest, RefusesAMissingEntryPoint) {
  build("noentry.so", "-DNO_ENTRY");
  auto plugin = load_filter(dir_.path(), "noentry.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, path("noentry.so") + ": missing entry point arus_filter_entry");
}

TEST_F(PluginLoaderTest, RefusesAnotherAbiVersion) {
  build("abi2.so", "-DABI=2");
  auto plugin = load_filter(dir_.path(), "abi2.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, path("abi2.so") + ": ABI version 2, expected 1");
}

TEST_F(PluginLoaderTest, RefusesADescriptorWithoutTransform) {
  build("half.so", "-DNO_TRANSFORM");
  auto plugin = load_filter(dir_.path(), "half.so");
  ASSERT_FALSE(plugin.ok());
  EXPECT_EQ(plugin.error().message, path("half.so") + ": descriptor lacks the function transform");
}

TEST_F(PluginLoaderTest, CreateFailureCarriesTheFiltersMessage) {
  build("good.so");
  auto plugin = load_filter(dir_.path(), "good.so");
  ASSERT_TRUE(plugin.ok()) << plugin.error().message;
  auto instance = FilterInstance::create(*plugin, "bad");
  ASSERT_FALSE(instance.ok());
  EXPECT_EQ(instance.error().message,
            path("good.so") + ": filter_args \"bad\": probe does not like 'bad'");
  EXPECT_TRUE(FilterInstance::create(*plugin, "fine").ok());
}

// Operators replace a filter by rename; loading the path again must run the new code
// while connections on the old one keep running the old.
TEST_F(PluginLoaderTest, ReplacedFileLoadsTheNewCode) {
  build("probe.so", "-DTAG=\"'A'\"");
  build("probe_b.so", "-DTAG=\"'B'\"");
  build("probe_c.so", "-DTAG=\"'C'\"");

  auto first = load_filter(dir_.path(), "probe.so");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(run(*first, "xy"), "AA");

  ASSERT_EQ(::rename(path("probe_b.so").c_str(), path("probe.so").c_str()), 0);
  auto second = load_filter(dir_.path(), "probe.so");
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(run(*second, "xy"), "BB");
  EXPECT_EQ(run(*first, "xy"), "AA");

  // Rewriting the file in place (same inode) must not disturb the loaded copy either.
  {
    std::string bytes = read_file(path("probe_c.so"));
    std::ofstream out(path("probe.so"), std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  EXPECT_EQ(run(*second, "xy"), "BB");
  auto third = load_filter(dir_.path(), "probe.so");
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(run(*third, "xy"), "CC");
}

bool mapped(const std::string& needle) {
  return read_file("/proc/self/maps").find(needle) != std::string::npos;
}

// A filter stays loaded while a connection uses it, even after the route and the
// loader's reference are gone, and is unloaded after the last one.
TEST_F(PluginLoaderTest, StaysLoadedWhileAConnectionUsesIt) {
  build("keepalive_probe.so");
  const std::string needle = "arus-filter:keepalive_probe.so";
  auto plugin = load_filter(dir_.path(), "keepalive_probe.so");
  ASSERT_TRUE(plugin.ok()) << plugin.error().message;
  EXPECT_TRUE(mapped(needle));

  std::shared_ptr<const FilterPlugin> plugin_ref = std::move(*plugin);
  auto instance = FilterInstance::create(plugin_ref, "");
  ASSERT_TRUE(instance.ok());
  StderrCapture log;
  auto session =
      FilterSession::open(*instance, FilterConnInfo{7, "web", "127.0.0.1:5000", "127.0.0.1:9001"});
  ASSERT_TRUE(session.ok()) << session.error().message;
  plugin_ref.reset();
  instance = Error{"dropped"};

  EXPECT_TRUE(mapped(needle));
  uint8_t out[4];
  size_t used = 0;
  size_t written = 0;
  EXPECT_EQ((*session)->transform(ARUS_BACKEND_TO_CLIENT, reinterpret_cast<const uint8_t*>("abcd"),
                                  4, out, sizeof out, &used, &written, 0),
            ARUS_FILTER_CONTINUE);
  EXPECT_EQ(written, 4u);
  session = Error{"closed"};
  EXPECT_FALSE(mapped(needle));

  // The filter's open and close logged through the host, tagged with the connection.
  std::string text = log.text();
  EXPECT_NE(text.find("info filter filter=" + path("keepalive_probe.so") +
                      " route=web client=127.0.0.1:5000 conn=7 msg=\"probe open\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("msg=\"probe close\""), std::string::npos) << text;
}

}  // namespace
}  // namespace arus
