// Escaping of text that goes into a log line, so one line stays one line, splits back
// into key=value pairs, and cannot rewrite the terminal it is shown on. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace arus::log {

// Appends `value` as the value of a key=value pair: as it is when it holds only
// printable ASCII other than '"', '=' and '\\' (and valid UTF-8 beyond ASCII), else in
// double quotes with '"' and '\\' backslashed, \t \n \r for those, \xHH for every other
// control byte (< 0x20, 0x7f), for C1 controls (U+0080-U+009F, which some terminals obey
// like ESC sequences) and for each byte of invalid UTF-8. An empty value is "".
void append_value(std::string& out, std::string_view value);

// Appends free text (a message, a key) unquoted: spaces and '=' stay, '\\' becomes "\\\\"
// and every byte append_value would escape is escaped the same way.
void append_text(std::string& out, std::string_view text);

}  // namespace arus::log
