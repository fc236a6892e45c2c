// The keys of a configuration as written, section by section: what the reload plan
// compares to name the keys a change touches, including keys this file does not know
// (every key the loader accepts is covered without a list to keep in step). Pure
// function over the text; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace arus {

// key -> its values in file order (a repeated key such as `backend` has several), each
// as inih hands it over: trimmed, inline comments cut.
using WrittenKeys = std::map<std::string, std::vector<std::string>, std::less<>>;

// section name as written without brackets ("global", "route:web") -> its keys. Text
// that does not parse yields what was read before the fault (the loader reports it).
std::map<std::string, WrittenKeys, std::less<>> written_keys(std::string_view text);

}  // namespace arus
