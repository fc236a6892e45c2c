// written_keys: inih over the text again, collecting values instead of validating them.
#include "arus/config/written_keys.hpp"

#include <ini.h>

#include <string>

namespace arus {

std::map<std::string, WrittenKeys, std::less<>> written_keys(std::string_view text) {
  std::map<std::string, WrittenKeys, std::less<>> sections;
  // Leading whitespace dropped, as the loader does: to inih an indented line would
  // continue the previous value. (And ini_parse_string needs a terminated string.)
  std::string copy;
  copy.reserve(text.size() + 1);
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == ' ' || c == '\t')) continue;
    line_start = c == '\n';
    copy += c;
  }
  ini_parse_string(
      copy.c_str(),
      [](void* user, const char* section, const char* name, const char* value) -> int {
        auto& out = *static_cast<std::map<std::string, WrittenKeys, std::less<>>*>(user);
        if (name == nullptr) return 1;  // a section header without keys (new inih)
        out[section][name].emplace_back(value != nullptr ? value : "");
        return 1;
      },
      &sections);
  return sections;
}

}  // namespace arus
