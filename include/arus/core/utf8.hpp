// UTF-8 validation, one sequence at a time, for the escapers of log lines and of the
// stats formats. Pure function; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace arus {

// Length (1-4) of the valid UTF-8 sequence starting at text[i], or 0 if none starts
// there: a stray continuation byte, a truncated sequence, an overlong form, a surrogate
// or a code point above U+10FFFF. Requires i < text.size().
size_t utf8_sequence_length(std::string_view text, size_t i) noexcept;

}  // namespace arus
