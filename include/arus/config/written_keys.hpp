// The keys of a configuration as written, section by section: what the reload plan
// compares to name the keys a change touches, including keys this file does not know
// (every key the loader accepts is covered without a list to keep in step). Pure
// function over the text; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

namespace arus {

// key -> its values in file order (a repeated key such as `backend` has several), each
// as inih hands it over: trimmed, inline comments cut.
using WrittenKeys = std::map<std::string, std::vector<std::string>, std::less<>>;

// section name as written without brackets ("global", "route:web") -> its keys. Text
// that does not parse yields what was read before the fault (the loader reports it).
std::map<std::string, WrittenKeys, std::less<>> written_keys(std::string_view text);

// The text of each section of a file, header line included, found by one scan of its
// lines: a reload compares two files section by section and parses (written_keys) only
// the sections whose text differs, so its cost follows what changed. Equal text means
// equal keys; where the scan cannot be sure a header is the only one inih reads as that
// section (a name inih would truncate, text after the `]`, a header written twice), find()
// says nothing and the caller compares whole files.
class SectionTexts {
 public:
  explicit SectionTexts(std::string_view text);
  // The section's text; empty when the file has no such section.
  std::optional<std::string_view> find(std::string_view name) const;

 private:
  bool usable_ = true;
  std::unordered_map<std::string_view, std::string_view> sections_;
};

}  // namespace arus
