// Escaping of user-supplied text (route names, addresses) for the two export formats.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace arus {

// Appends `value` as the inside of a Prometheus label value (text format 0.0.4):
// backslash, double quote and line feed escaped; invalid UTF-8 bytes become U+FFFD, since
// the format requires UTF-8.
void append_label_value(std::string& out, std::string_view value);

// Appends `value` as a JSON string, quotes included: '"' and '\\' escaped, control
// characters as \u00XX, invalid UTF-8 bytes as \ufffd.
void append_json_string(std::string& out, std::string_view value);

}  // namespace arus
