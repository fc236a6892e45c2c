// Builds configuration text in tests, so a test reads with its line numbers.
#pragma once

#include <initializer_list>
#include <string>

namespace arus::test {

// Joins lines with '\n': element i is line i+1.
inline std::string lines(std::initializer_list<std::string> items) {
  std::string text;
  for (const std::string& item : items) text += item + "\n";
  return text;
}

}  // namespace arus::test
