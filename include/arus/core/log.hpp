// Structured log lines on stderr: "2026-12-01T10:00:00.123Z info msg key=value ...".
// Thread-safe: each line is formatted privately, then handed whole to the process's
// LogSink (log_sink.hpp): written at once before start_writer(), queued after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arus::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

void set_level(Level level);  // call before workers start or any time: relaxed atomic
bool enabled(Level level);

// From now on lines are queued and written to stderr by a thread of their own, so a
// stderr nobody reads costs dropped lines (counted, and told once it drains), never a
// stalled thread. Call once the process has its final identity (after a privilege
// drop) and its signal mask; it blocks every signal in that thread. Once only; it also
// registers stop_writer() with atexit(). A process that forks after this must not log
// in the child (exec at once).
void start_writer();
// Writes what is queued, waiting up to about 1.5 s for a slow stderr, and ends the
// writer; later lines are written at once again. False when the wait ran out (the rest
// is given up and later lines are dropped). Call from one thread at a time.
bool stop_writer();
// Lines given up since start: no room in the queue, or stderr broken.
uint64_t dropped_lines();

// One log line, emitted by the destructor. Values holding spaces, quotes or '=' are
// quoted so every line splits back into key=value pairs; control bytes and invalid
// UTF-8 in values, keys and the message are escaped (log_escape.hpp), so a line stays
// one line whatever a route name or a filter's message holds.
//   log::Line(log::Level::kInfo, "access").kv("route", name).kv("bytes", n);
class Line {
 public:
  Line(Level level, std::string_view msg);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  Line& kv(std::string_view key, int64_t value);
  Line& kv(std::string_view key, uint64_t value);
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<int64_t>(value)); }
  Line& kv(std::string_view key, unsigned value) { return kv(key, static_cast<uint64_t>(value)); }

 private:
  std::string text_;
  bool enabled_;
};

// Shorthands for a line with no fields or a few added by the caller.
inline Line error(std::string_view msg) { return Line(Level::kError, msg); }
inline Line warn(std::string_view msg) { return Line(Level::kWarn, msg); }
inline Line info(std::string_view msg) { return Line(Level::kInfo, msg); }
inline Line debug(std::string_view msg) { return Line(Level::kDebug, msg); }

}  // namespace arus::log
