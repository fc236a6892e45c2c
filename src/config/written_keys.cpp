// written_keys: inih over the text again, collecting values instead of validating them.
#include "arus/config/written_keys.hpp"

#include <ini.h>

#include <string>

namespace arus {

std::map<std::string, WrittenKeys, std::less<>> written_keys(std::string_view text) {
  std::map<std::string, WrittenKeys, std::less<>> sections;
  // ini_parse_string needs a terminated string.
  const std::string copy(text);
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
