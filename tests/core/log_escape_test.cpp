// Log escaping (issue 12 item 7): control bytes, C1 controls and invalid UTF-8 escaped,
// valid UTF-8 kept, quotes exactly when a value needs them. One table per function.
#include "arus/core/log_escape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus::log {
namespace {

struct Case {
  std::string_view input;
  std::string_view expected;
};

// Each row says why; std::string_view literals keep embedded NUL bytes.
using namespace std::string_view_literals;

constexpr Case kValues[] = {
    {"web", "web"},  // plain: bare
    {"127.0.0.1:8080", "127.0.0.1:8080"},
    {"caf\xC3\xA9-\xF0\x9F\x98\x80", "caf\xC3\xA9-\xF0\x9F\x98\x80"},  // valid UTF-8 kept
    {"", "\"\""},                                                      // empty: quoted
    {"a b", "\"a b\""},                                                // would split the pairs
    {"k=v", "\"k=v\""},
    {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"back\\slash", "\"back\\\\slash\""},
    {"a\nb", "\"a\\nb\""},  // control bytes
    {"a\rb", "\"a\\rb\""},
    {"a\tb", "\"a\\tb\""},
    {"\x1b[2J", "\"\\x1b[2J\""},
    {"nul\0!"sv, "\"nul\\x00!\""},
    {"del\x7f", "\"del\\x7f\""},
    {"csi\xC2\x9B;", "\"csi\\xc2\\x9b;\""},   // C1 CSI: valid UTF-8, still escaped
    {"bad\xff", "\"bad\\xff\""},              // invalid UTF-8, byte by byte
    {"\xC0\xAF", "\"\\xc0\\xaf\""},           // overlong
    {"\xE2\x82 x", "\"\\xe2\\x82 x\""},       // truncated
    {"\xED\xA0\x80", "\"\\xed\\xa0\\x80\""},  // surrogate
    {"\xff\xC3\xA9", "\"\\xff\xC3\xA9\""},    // the next sequence is valid
};

constexpr Case kTexts[] = {
    {"proxy.conf:3: [route:a] listen: \"x\" in use",  // spaces, quotes, '=' stay
     "proxy.conf:3: [route:a] listen: \"x\" in use"},
    {"two\nlines\r\x1b]0;title\x07", "two\\nlines\\r\\x1b]0;title\\x07"},
    {"C:\\dir \xff", "C:\\\\dir \\xff"},
    {"", ""},
};

TEST(LogEscape, Values) {
  for (const Case& c : kValues) {
    std::string out = "k=";
    append_value(out, c.input);
    EXPECT_EQ(out, "k=" + std::string(c.expected)) << "input: " << c.input;
  }
}

TEST(LogEscape, FreeText) {
  for (const Case& c : kTexts) {
    std::string out;
    append_text(out, c.input);
    EXPECT_EQ(out, c.expected) << "input: " << c.input;
  }
}

}  // namespace
}  // namespace arus::log
