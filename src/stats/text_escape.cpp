// Label-value and JSON-string escaping; UTF-8 validity from core/utf8.
#include "arus/stats/text_escape.hpp"

#include <cstdint>
#include <cstdio>

#include "arus/core/utf8.hpp"

namespace arus {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (size_t i = 0; i < value.size();) {
    char c = value[i];
    size_t length = utf8_sequence_length(value, i);
    if (length == 0) {
      out += kReplacement;
      i += 1;
      continue;
    }
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.append(value.substr(i, length));
    }
    i += length;
  }
}

void append_json_string(std::string& out, std::string_view value) {
  out += '"';
  for (size_t i = 0; i < value.size();) {
    char c = value[i];
    size_t length = utf8_sequence_length(value, i);
    if (length == 0) {
      out += "\\ufffd";
      i += 1;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<uint8_t>(c) < 0x20 || c == 0x7F) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      out += buf;
    } else {
      out.append(value.substr(i, length));
    }
    i += length;
  }
  out += '"';
}

}  // namespace arus
