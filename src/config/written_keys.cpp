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

namespace {

// inih keeps section names shorter than this (INI_MAX_SECTION); longer ones it truncates.
constexpr size_t kInihMaxSection = 50;

bool blank_or_comment(std::string_view rest) {
  size_t first = rest.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || rest[first] == ';' || rest[first] == '#';
}

}  // namespace

SectionTexts::SectionTexts(std::string_view text) {
  std::string_view open_name;
  size_t open_start = 0;
  bool open = false;
  auto close = [&](size_t end) {
    if (!open) return;
    if (!sections_.emplace(open_name, text.substr(open_start, end - open_start)).second) {
      usable_ = false;  // written twice: inih merges them
    }
  };
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(start, end - start);
    size_t lead = line.find_first_not_of(" \t");
    if (lead != std::string_view::npos && line[lead] == '[') {
      size_t bracket = line.find(']', lead);
      std::string_view name;
      if (bracket != std::string_view::npos) name = line.substr(lead + 1, bracket - lead - 1);
      if (bracket == std::string_view::npos || name.size() >= kInihMaxSection ||
          name.find(';') != std::string_view::npos || !blank_or_comment(line.substr(bracket + 1))) {
        usable_ = false;
      }
      close(start);
      open_name = name;
      open_start = start;
      open = true;
    }
    start = end;
  }
  close(text.size());
}

std::optional<std::string_view> SectionTexts::find(std::string_view name) const {
  if (!usable_) return std::nullopt;
  auto it = sections_.find(name);
  return it == sections_.end() ? std::string_view() : it->second;  // absent: no keys
}

}  // namespace arus
