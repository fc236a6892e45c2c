// Log text escaping: a scan for the common case (nothing to escape, one append), and a
// byte-by-byte path for the rest.
#include "arus/core/log_escape.hpp"

#include <cstdint>

#include "arus/core/utf8.hpp"

namespace arus::log {
namespace {

// Printable ASCII that never needs a backslash; `quote_too` adds what forces quotes in
// a value (space, '"', '=').
bool plain(uint8_t c, bool quote_too) {
  if (c <= 0x20 || c >= 0x7F || c == '\\') return c == ' ' && !quote_too;
  return !(quote_too && (c == '"' || c == '='));
}

bool c1_control(std::string_view text, size_t i, size_t length) {
  return length == 2 && static_cast<uint8_t>(text[i]) == 0xC2 &&
         static_cast<uint8_t>(text[i + 1]) < 0xA0;
}

void append_hex(std::string& out, uint8_t c) {
  constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[c >> 4];
  out += kDigits[c & 0xF];
}

// The body of an escaped value or text; `in_quotes` escapes '"' as well.
void append_escaped(std::string& out, std::string_view text, bool in_quotes) {
  for (size_t i = 0; i < text.size();) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c >= 0x80) {
      size_t length = utf8_sequence_length(text, i);
      if (length == 0 || c1_control(text, i, length)) {
        // Invalid bytes one by one (the next may start a valid sequence); a C1 control
        // whole, both its bytes.
        size_t n = length == 0 ? 1 : length;
        for (size_t k = 0; k < n; ++k) append_hex(out, static_cast<uint8_t>(text[i + k]));
        i += n;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        if (in_quotes) out += '\\';
        out += '"';
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          append_hex(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

// Whether `text` can be appended as it is: only plain bytes and valid UTF-8 that is no
// C1 control.
bool all_plain(std::string_view text, bool quote_too) {
  for (size_t i = 0; i < text.size();) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      if (!plain(c, quote_too)) return false;
      ++i;
      continue;
    }
    size_t length = utf8_sequence_length(text, i);
    if (length == 0 || c1_control(text, i, length)) return false;
    i += length;
  }
  return true;
}

}  // namespace

void append_value(std::string& out, std::string_view value) {
  if (!value.empty() && all_plain(value, /*quote_too=*/true)) {
    out += value;
    return;
  }
  out += '"';
  append_escaped(out, value, /*in_quotes=*/true);
  out += '"';
}

void append_text(std::string& out, std::string_view text) {
  if (all_plain(text, /*quote_too=*/false)) {
    out += text;
    return;
  }
  append_escaped(out, text, /*in_quotes=*/false);
}

}  // namespace arus::log
