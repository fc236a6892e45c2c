// Taking over the running configuration's routes whose sections a reload finds written
// exactly as before, so the loader parses (and resolves) only what changed: a reload of
// thousands of routes that touches three parses three (issue 19, "reload at scale").
// Read-only over the running configuration (immutable, shared): safe on the thread that
// loads the file while the control thread serves it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/core/place_lookup.hpp"

namespace arus {

// The offset of the first line at or after `from` (a line start) that the loader reads as
// a section header, well-formed or not: its first character after leading whitespace is
// '['. text.size() when there is none. Where a section's text ends.
size_t next_section_start(std::string_view text, size_t from) noexcept;

// What a route's parse depends on is its own section's text and nothing else in the file
// but [global] (none of whose keys a route reads today; compared all the same, so a
// future default a route inherits cannot be missed) and the file's path (messages,
// plugin_dir). Line numbers are part of the result (RouteConfig::line, key_lines, each
// backend's line): a section moved up or down keeps its settings, its lines shift.
// Names are what a reload must look up again: a section whose listen or any backend is
// written as a DNS name is always parsed.
class RunningSections {
 public:
  // `running`: the configuration in force, or null (nothing is taken over); `path` and
  // `text`: the file being loaded (another path: nothing is taken over).
  RunningSections(const Config* running, const std::string& path, std::string_view text);

  // Told when the loader meets the new file's [global] header, `section` its text (header
  // line to the next header) at `offset` of the new file: routes after it are taken over
  // only when it is written as the running one's. Without a [global] in either file,
  // routes are taken over from the start; a route before a [global] header is parsed.
  void global_section(std::string_view section, size_t offset);

  // The route for section [route:NAME] of the new text, the `index`th route of the file,
  // its header at `line`, `section` its text (header line to the next header) at `offset`
  // of the new file: the
  // running route itself when written the same at the same line, a copy with its lines
  // shifted when the section moved, or null when it must be parsed (new, changed, a DNS
  // name, or [global] changed or not yet known to be the same).
  std::shared_ptr<const RouteConfig> take_over(size_t index, std::string_view name,
                                               std::string_view section, size_t offset,
                                               int line);

  // How many routes take_over() handed out.
  size_t taken() const noexcept { return taken_; }

 private:
  std::string_view running_section(int line);
  // True when the running text has `section` at `offset`, as a whole section.
  bool section_at(size_t offset, std::string_view section) const;
  // The running route named `name` (null when there is none), the new file's `index`th.
  std::shared_ptr<const RouteConfig> running_route(size_t index, std::string_view name);

  const Config* running_;
  bool enabled_;
  bool global_same_ = false;  // [global] is known to be written as the running one's
  std::vector<size_t> line_starts_;  // of the running text, made at the first miss
  size_t next_offset_ = 0;  // in the running text: where the last section taken over ended
  PlaceLookup<std::string_view> by_name_;  // the running routes
  size_t taken_ = 0;
};

// A copy of `route` moved by `delta` lines: its header, each key's and each backend's.
RouteConfig shifted_route(const RouteConfig& route, int delta);

}  // namespace arus
