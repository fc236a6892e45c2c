// render_json: the /stats shape of docs/operations.md, exact for a tiny table, and valid JSON
// whatever the route names hold (checked with a small strict JSON reader).
#include "arus/stats/json_exporter.hpp"

#include <gtest/gtest.h>

#include <string_view>

#include "arus/stats/text_escape.hpp"

#include "sample_snapshot.hpp"

namespace arus {
namespace {

// Strict RFC 8259 syntax check, enough to prove the output parses.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}
  bool valid() {
    skip_ws();
    if (!value()) return false;
    skip_ws();
    return pos_ == text_.size();
  }

 private:
  bool value() {
    if (pos_ >= text_.size()) return false;
    char c = text_[pos_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return string();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    return literal("true") || literal("false") || literal("null");
  }
  bool object() {
    ++pos_;
    skip_ws();
    if (eat('}')) return true;
    do {
      skip_ws();
      if (!string()) return false;
      skip_ws();
      if (!eat(':')) return false;
      skip_ws();
      if (!value()) return false;
      skip_ws();
    } while (eat(','));
    return eat('}');
  }
  bool array() {
    ++pos_;
    skip_ws();
    if (eat(']')) return true;
    do {
      skip_ws();
      if (!value()) return false;
      skip_ws();
    } while (eat(','));
    return eat(']');
  }
  bool string() {
    if (!eat('"')) return false;
    while (pos_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (pos_ >= text_.size()) return false;
        char e = text_[pos_++];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            if (pos_ >= text_.size() || !isxdigit(static_cast<unsigned char>(text_[pos_++]))) {
              return false;
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool number() {
    size_t start = pos_;
    eat('-');
    while (pos_ < text_.size() &&
           (isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.')) {
      ++pos_;
    }
    return pos_ > start;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void skip_ws() {
    while (pos_ < text_.size() &&
           std::string_view(" \t\r\n").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
  }
  std::string_view text_;
  size_t pos_ = 0;
};

StatsSnapshot tiny_snapshot() { return sample_snapshot(1700000000.25, /*backend_up=*/true); }

TEST(JsonExporter, TinyTableExactText) {
  const char* expected =
      "{\"version\":\"0.1.0\",\"start_time_seconds\":1700000000.250,\"generation\":3,"
      "\"reloads\":{\"ok\":2,\"error\":1},\"log_lines_dropped\":9,"
      "\"workers\":[{\"connections_active\":1},{\"connections_active\":0}],"
      "\"routes\":[{\"name\":\"web\",\"listen\":\"127.0.0.1:8080\",\"retired\":false,"
      "\"connections_active\":1,\"connections_total\":10,"
      "\"bytes\":{\"client_to_backend\":100,\"backend_to_client\":200},"
      "\"refused\":{\"route_limit\":1,\"global_limit\":2,\"fds\":3,\"backend_limit\":0,"
      "\"source_limit\":0,\"rate_limit\":0,\"source_rate_limit\":0},"
      "\"timeouts\":{\"connect\":4,\"idle\":5},\"filter_closed\":6,\"proxy_header_errors\":11,"
      "\"queue_length\":0,\"queue_timeouts\":0,"
      "\"backends\":[{\"backend\":\"127.0.0.1:9001\",\"address\":\"127.0.0.1:9001\",\"up\":true,"
      "\"connections_active\":1,"
      "\"connections_total\":7,\"connect_errors_total\":8,"
      "\"health\":{\"state\":\"up\",\"last_error\":\"http status 503\",\"checks_ok\":11,"
      "\"checks_failed\":12,\"state_changes\":13},\"admin_state\":\"ready\",\"weight\":1,"
      "\"max_connections\":0}]}]}\n";
  std::string json = render_json(tiny_snapshot());
  EXPECT_EQ(json, expected);
  EXPECT_TRUE(JsonReader(json).valid());
}

TEST(JsonExporter, HealthWithoutAnErrorIsNull) {
  StatsSnapshot s = sample_snapshot(1700000000.25, /*backend_up=*/false);
  s.routes[0].backends[0].last_error.clear();
  std::string json = render_json(s);
  EXPECT_NE(json.find("\"health\":{\"state\":\"down\",\"last_error\":null,"), std::string::npos)
      << json;
  EXPECT_TRUE(JsonReader(json).valid());
}

TEST(JsonExporter, EmptyTableIsValid) {
  std::string json = render_json(StatsSnapshot{});
  EXPECT_EQ(json,
            "{\"version\":\"\",\"start_time_seconds\":0.000,\"generation\":0,"
            "\"reloads\":{\"ok\":0,\"error\":0},\"log_lines_dropped\":0,\"workers\":[],"
            "\"routes\":[]}\n");
  EXPECT_TRUE(JsonReader(json).valid());
}

TEST(JsonExporter, HostileNamesStayValidJson) {
  StatsSnapshot s = tiny_snapshot();
  s.routes[0].name = std::string("q\"b\\n\nt\tz\x01\x1f\x7f bad\xc0\xaf end", 22);
  s.routes[0].backends.push_back(s.routes[0].backends[0]);
  s.routes[0].backends[1].up = false;
  s.routes.push_back(s.routes[0]);
  std::string json = render_json(s);
  EXPECT_TRUE(JsonReader(json).valid()) << json;
  EXPECT_NE(json.find("\"name\":\"q\\\"b\\\\n\\u000at\\u0009z\\u0001\\u001f\\u007f "
                      "bad\\ufffd\\ufffd end\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"up\":false"), std::string::npos);
}

TEST(TextEscape, JsonKeepsValidUtf8) {
  std::string out;
  append_json_string(out, "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(out, "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST(TextEscape, InvalidUtf8IsReplaced) {
  // Truncated sequence, overlong '/', a surrogate, beyond U+10FFFF.
  std::string out;
  append_json_string(out, "\xE2\x82 \xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80");
  EXPECT_EQ(out,
            "\"\\ufffd\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd"
            "\\ufffd\"");
  std::string label;
  append_label_value(label, "a\\b\"c\nd\te\xff");
  EXPECT_EQ(label, "a\\\\b\\\"c\\nd\te\xEF\xBF\xBD");
}

}  // namespace
}  // namespace arus
