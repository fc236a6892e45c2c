// LogSink on a pipe: direct before start, queued lines whole and in order from many
// threads, a full queue dropping and counting, the notice placed where the gap is, a
// bounded stop on a descriptor nobody reads, write errors counted. Waits have deadlines.
#include "arus/core/log_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace arus::log {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDeadline{20000};

std::string notice(uint64_t count) { return "dropped " + std::to_string(count) + "\n"; }

std::string numbered(int n) { return "line " + std::to_string(n) + "\n"; }

// A pipe whose read end the test controls; the write end is the sink's descriptor.
class Pipe {
 public:
  Pipe() {
    EXPECT_EQ(pipe2(fds_, O_CLOEXEC), 0);
    fcntl(fds_[1], F_SETPIPE_SZ, 4096);  // fills after a page: quick to stall
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  int write_fd() const { return fds_[1]; }
  void close_read() {
    if (fds_[0] >= 0) close(fds_[0]);
    fds_[0] = -1;
  }
  void close_write() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }
  // What can be read within `wait` without blocking longer than that.
  std::string read_available(milliseconds wait = milliseconds(0)) {
    std::string out;
    char buf[65536];
    pollfd p{fds_[0], POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(wait.count())) > 0 && (p.revents & POLLIN)) {
      ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      wait = milliseconds(0);
    }
    return out;
  }
  // Reads until `done(text so far)` holds or the deadline passes.
  template <class Done>
  std::string read_until(Done done, std::string out = {}) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done(out) && std::chrono::steady_clock::now() < deadline) {
      out += read_available(milliseconds(10));
    }
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Submits numbered lines until the sink drops `drops` of them; returns the next number.
int fill_until_dropped(LogSink& sink, uint64_t drops, int first = 0) {
  int n = first;
  uint64_t before = sink.dropped_total();
  while (sink.dropped_total() < before + drops && n < first + 10'000'000)
    sink.submit(numbered(n++));
  return n;
}

TEST(LogSink, WritesAtOnceBeforeStart) {
  Pipe pipe;
  LogSink sink(pipe.write_fd(), 1024, notice);
  sink.submit("early\n");
  EXPECT_EQ(pipe.read_available(), "early\n");  // no thread involved: already there
}

TEST(LogSink, LinesFromManyThreadsArriveWholeAndInOrder) {
  constexpr int kThreads = 4;
  constexpr int kLines = 2000;
  Pipe pipe;
  // Larger than everything written, so nothing may drop even with a slow reader.
  LogSink sink(pipe.write_fd(), 1 << 20, notice);
  sink.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      for (int i = 0; i < kLines; ++i) {
        sink.submit("thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                    std::string(static_cast<size_t>(i % 50), 'x') + "\n");
      }
    });
  }
  std::string out;
  std::thread reader([&] {
    out = pipe.read_until([](const std::string& s) {
      return static_cast<int>(std::count(s.begin(), s.end(), '\n')) == kThreads * kLines;
    });
  });
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(sink.stop(kDeadline));
  reader.join();
  EXPECT_EQ(sink.dropped_total(), 0u);
  std::map<int, int> next;  // thread -> next line number expected
  for (const std::string& line : lines_of(out)) {
    int t = -1, i = -1;
    ASSERT_EQ(sscanf(line.c_str(), "thread %d line %d", &t, &i), 2) << line;
    EXPECT_EQ(i, next[t]++) << line;
    EXPECT_EQ(line, "thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                        std::string(static_cast<size_t>(i % 50), 'x'));
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kLines);
}

TEST(LogSink, AFullQueueDropsCountsAndTellsWhereTheGapIs) {
  Pipe pipe;
  LogSink sink(pipe.write_fd(), 8192, notice);
  sink.start();
  // Nobody reads: the writer blocks on the full pipe, the queue fills, lines drop. Every
  // line from the first drop on is dropped until the writer has room again.
  int next = fill_until_dropped(sink, 10);
  EXPECT_EQ(sink.dropped_total(), 10u);

  std::string out = pipe.read_until(
      [](const std::string& s) { return s.find("dropped 10\n") != std::string::npos; });
  ASSERT_NE(out.find("dropped 10\n"), std::string::npos) << out.size() << " bytes read";
  for (int i = 0; i < 5; ++i) sink.submit(numbered(next + i));
  EXPECT_TRUE(sink.stop(kDeadline));
  out += pipe.read_available();

  // Lines 0..a-1, the notice, then the five submitted after it: a..a+9 were dropped.
  std::vector<std::string> lines = lines_of(out);
  int expected = 0;
  bool told = false;
  for (const std::string& line : lines) {
    if (line == "dropped 10") {
      EXPECT_FALSE(told);
      told = true;
      EXPECT_EQ(expected, next - 10);
      expected = next;
      continue;
    }
    EXPECT_EQ(line, "line " + std::to_string(expected)) << "after " << expected << " lines";
    ++expected;
  }
  EXPECT_TRUE(told);
  EXPECT_EQ(expected, next + 5);
  EXPECT_EQ(sink.dropped_total(), 10u);
}

TEST(LogSink, StopGivesUpOnADescriptorNobodyReads) {
  Pipe pipe;
  auto sink = std::make_unique<LogSink>(pipe.write_fd(), 8192, notice);
  sink->start();
  fill_until_dropped(*sink, 1);
  EXPECT_FALSE(sink->stop(milliseconds(50)));  // returns although the writer is blocked
  uint64_t dropped = sink->dropped_total();
  sink->submit("after the stop\n");  // dropped, not written, not blocking
  EXPECT_EQ(sink->dropped_total(), dropped + 1);

  // Read everything so the writer can finish; the destructor waits for it.
  std::string out;
  std::thread reader([&] {
    out = pipe.read_until(
        [](const std::string& s) { return s.find("dropped ") != std::string::npos; });
    out += pipe.read_available(milliseconds(100));
  });
  sink.reset();
  reader.join();
  EXPECT_EQ(out.find("after the stop"), std::string::npos);
  EXPECT_NE(out.find("dropped "), std::string::npos);  // the queued notice still went out
}

TEST(LogSink, StopWritesWhatIsQueuedThenWritesAtOnce) {
  Pipe pipe;
  LogSink sink(pipe.write_fd(), 1 << 16, notice);
  sink.start();
  for (int i = 0; i < 100; ++i) sink.submit(numbered(i));
  std::string out;
  std::thread reader([&] {
    out = pipe.read_until(
        [](const std::string& s) { return s.find("line 99\n") != std::string::npos; });
  });
  EXPECT_TRUE(sink.stop(kDeadline));
  reader.join();
  EXPECT_EQ(lines_of(out).size(), 100u);
  sink.submit("direct\n");
  EXPECT_EQ(pipe.read_available(), "direct\n");
}

TEST(LogSink, LinesLostToAWriteErrorAreCounted) {
  Pipe pipe;
  pipe.close_read();  // EPIPE from now on (SIGPIPE is blocked in the writer thread)
  LogSink sink(pipe.write_fd(), 1 << 16, notice);
  sink.start();
  for (int i = 0; i < 3; ++i) sink.submit(numbered(i));
  EXPECT_TRUE(sink.stop(kDeadline));
  EXPECT_EQ(sink.dropped_total(), 3u);
}

}  // namespace
}  // namespace arus::log
