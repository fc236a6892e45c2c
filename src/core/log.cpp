// Log line formatting and the process-wide level.
#include "arus/core/log.hpp"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "arus/core/clock.hpp"
#include "arus/core/log_escape.hpp"

namespace arus::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

constexpr std::string_view kLevelNames[] = {"error", "warn", "info", "debug"};

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

Line::Line(Level level, std::string_view msg) : enabled_(enabled(level)) {
  if (!enabled_) return;
  uint64_t now = wall_clock_ms();
  time_t seconds = static_cast<time_t>(now / 1000);
  tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[64];
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ ", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
           static_cast<unsigned>(now % 1000));
  text_.reserve(160);
  text_ += stamp;
  text_ += level_name(level);
  text_ += ' ';
  append_text(text_, msg);
}

Line::~Line() {
  if (!enabled_) return;
  text_ += '\n';
  // One write per line keeps lines from different threads whole.
  const char* p = text_.data();
  size_t left = text_.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;  // stderr gone or full: dropping a log line beats blocking forever
    p += n;
    left -= static_cast<size_t>(n);
  }
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
