// log::Line as it reaches stderr (captured through a pipe): issue 12 item 7, control
// bytes from a route name, a filter's message or an error text never break a line.
#include "arus/core/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace arus {
namespace {

// Runs `emit` with fd 2 on a pipe and returns what it wrote. The unit tests never start
// the writer thread, so a line is written before Line's destructor returns.
template <class Emit>
std::string captured_stderr(Emit emit) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_NONBLOCK), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  emit();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

// What follows the timestamp and level.
std::string body(const std::string& line) {
  size_t first = line.find(' ');
  size_t second = line.find(' ', first + 1);
  return line.substr(second + 1);
}

TEST(Log, Issue12ControlBytesNeverBreakALine) {
  std::string out = captured_stderr([] {
    log::info("access").kv("route", "web\r\x1b[2Jevil").kv("msg", "two\nlines\x7f").kv("bytes", 5);
  });
  ASSERT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(body(out), "access route=\"web\\r\\x1b[2Jevil\" msg=\"two\\nlines\\x7f\" bytes=5\n");
}

TEST(Log, Issue12InvalidUtf8IsEscapedAndValidUtf8Kept) {
  std::string out = captured_stderr(
      [] { log::warn("filter").kv("route", "caf\xC3\xA9").kv("msg", "bad\xff\xfe"); });
  EXPECT_EQ(body(out), "filter route=caf\xC3\xA9 msg=\"bad\\xff\\xfe\"\n");
}

TEST(Log, Issue12MessageTextIsEscapedToo) {
  std::string out =
      captured_stderr([] { log::error("proxy.conf:3: [route:a\x1b[31m] bad\nvalue"); });
  EXPECT_EQ(body(out), "proxy.conf:3: [route:a\\x1b[31m] bad\\nvalue\n");
}

TEST(Log, LineFormatIsStampLevelMessageFields) {
  std::string out = captured_stderr([] { log::warn("something").kv("key", "a b").kv("n", -3); });
  EXPECT_TRUE(out.size() > 25 && out[4] == '-' && out[10] == 'T' && out[23] == 'Z') << out;
  EXPECT_EQ(out.substr(25), "warn something key=\"a b\" n=-3\n");
}

}  // namespace
}  // namespace arus
