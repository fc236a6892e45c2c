// Log line formatting, the process-wide level, and the process-wide LogSink on stderr.
#include "arus/core/log.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "arus/core/clock.hpp"
#include "arus/core/log_escape.hpp"
#include "arus/core/log_sink.hpp"

namespace arus::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

constexpr std::string_view kLevelNames[] = {"error", "warn", "info", "debug"};

// About 2,500 access lines: a burst, or a reader of stderr pausing for a while, loses
// nothing; a reader that stopped costs this much memory, then lines are dropped.
constexpr size_t kQueueBytes = 512 * 1024;
// How long the exit waits for queued lines to reach a slow stderr before giving up.
constexpr auto kFlushTimeout = std::chrono::milliseconds(1500);

// "2026-12-01T10:00:00.123Z info msg": the start of every line.
void append_head(std::string& out, Level level, std::string_view msg) {
  uint64_t now = wall_clock_ms();
  time_t seconds = static_cast<time_t>(now / 1000);
  tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[64];
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ ", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
           static_cast<unsigned>(now % 1000));
  out += stamp;
  out += level_name(level);
  out += ' ';
  append_text(out, msg);
}

std::string dropped_notice(uint64_t count) {
  std::string line;
  append_head(line, Level::kWarn, "log_lines_dropped");
  line += " count=";
  line += std::to_string(count);
  line += '\n';
  return line;
}

LogSink& sink() {
  // Never destroyed, on purpose: a writer still blocked in write(2) when the process
  // exits must find it intact, and static destructors may still log.
  static LogSink* const instance = new LogSink(STDERR_FILENO, kQueueBytes, dropped_notice);
  return *instance;
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  }
  return std::nullopt;
}

std::string_view level_name(Level level) { return kLevelNames[static_cast<int>(level)]; }

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void start_writer() {
  static std::once_flag once;
  std::call_once(once, [] {
    sink().start();
    // exit() anywhere still flushes; after a normal stop_writer() this does nothing.
    std::atexit([] { stop_writer(); });
  });
}

bool stop_writer() { return sink().stop(kFlushTimeout); }

uint64_t dropped_lines() { return sink().dropped_total(); }

Line::Line(Level level, std::string_view msg) : enabled_(enabled(level)) {
  if (!enabled_) return;
  text_.reserve(160);
  append_head(text_, level, msg);
}

Line::~Line() {
  if (!enabled_) return;
  text_ += '\n';
  sink().submit(text_);
}

Line& Line::kv(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  text_ += ' ';
  append_text(text_, key);
  text_ += '=';
  append_value(text_, value);
  return *this;
}

Line& Line::kv(std::string_view key, int64_t value) {
  if (!enabled_) return *this;
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%lld", static_cast<long long>(value));
  return kv(key, std::string_view(buf, static_cast<size_t>(n)));
}

Line& Line::kv(std::string_view key, uint64_t value) {
  if (!enabled_) return *this;
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(value));
  return kv(key, std::string_view(buf, static_cast<size_t>(n)));
}

}  // namespace arus::log
