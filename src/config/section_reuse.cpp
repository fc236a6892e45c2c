// RunningSections: which sections of a new file are written as the running ones.
#include "arus/config/section_reuse.hpp"

#include <optional>

#include "arus/net/address.hpp"

namespace arus {
namespace {

// What the loader strips from the front of a line before reading it (ini_loader.cpp).
bool leading_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool is_literal_address(const std::string& written) {
  Result<HostPort> host_port = split_host_port(written);
  return host_port && is_ip_literal(host_port->host);
}

// Resolved once per reload and never again from the text: a DNS name is looked up anew by
// every reload, so its section is parsed.
bool names_nothing(const RouteConfig& route) {
  for (const BackendConfig& backend : route.backends) {
    if (backend.by_name) return false;
  }
  return is_literal_address(route.listen_name);
}

}  // namespace

size_t next_section_start(std::string_view text, size_t from) noexcept {
  // Found by its '[' (one search per section rather than one per line): a '[' begins a
  // header line when only leading space precedes it on its line.
  for (size_t bracket = text.find('[', from); bracket != std::string_view::npos;
       bracket = text.find('[', bracket + 1)) {
    size_t at = bracket;
    while (at > from && leading_space(text[at - 1])) --at;
    if (at == from || text[at - 1] == '\n') return at;
  }
  return text.size();
}

RouteConfig shifted_route(const RouteConfig& route, int delta) {
  RouteConfig moved = route;
  moved.line += delta;
  for (auto& entry : moved.key_lines) entry.second += delta;
  for (BackendConfig& backend : moved.backends) backend.line += delta;
  return moved;
}

RunningSections::RunningSections(const Config* running, const std::string& path,
                                 std::string_view text)
    : running_(running), enabled_(running != nullptr && running->path == path) {
  // Neither file has a [global] section: nothing to compare. (The loader reads only
  // "[global]" as that section: any other spelling is an unknown section.)
  global_same_ = enabled_ && running->global.line == 0 &&
                 text.find("[global]") == std::string_view::npos;
}

void RunningSections::global_section(std::string_view section, size_t offset) {
  global_same_ = false;
  if (!enabled_ || running_->global.line == 0) return;
  // Where the new file has it (an unchanged top of the file), else at its header's line.
  if (section_at(offset, section)) {
    global_same_ = true;
    next_offset_ = offset + section.size();
    return;
  }
  std::string_view at_line = running_section(running_->global.line);
  global_same_ = at_line == section;
  if (global_same_) next_offset_ = static_cast<size_t>(at_line.data() - running_->source.data()) + section.size();
}

bool RunningSections::section_at(size_t offset, std::string_view section) const {
  std::string_view text = running_->source;
  if (offset > text.size() || text.size() - offset < section.size()) return false;
  if (text.compare(offset, section.size(), section) != 0) return false;
  const size_t end = offset + section.size();  // a line start or the end (as `section`'s)
  return end == text.size() || next_section_start(text, end) == end;
}

std::string_view RunningSections::running_section(int line) {
  std::string_view text = running_->source;
  if (line_starts_.empty()) {
    line_starts_.push_back(0);
    for (size_t at = text.find('\n'); at != std::string_view::npos; at = text.find('\n', at + 1)) {
      line_starts_.push_back(at + 1);
    }
  }
  if (line < 1 || static_cast<size_t>(line) > line_starts_.size()) return {};
  size_t start = line_starts_[static_cast<size_t>(line) - 1];
  size_t body = static_cast<size_t>(line) < line_starts_.size()
                    ? line_starts_[static_cast<size_t>(line)]
                    : text.size();
  return text.substr(start, next_section_start(text, body) - start);
}

std::shared_ptr<const RouteConfig> RunningSections::running_route(size_t index,
                                                                 std::string_view name) {
  const auto& routes = running_->routes;
  std::optional<size_t> at = by_name_.find(index, name, routes.size(), [&](size_t i) {
    return std::string_view(routes[i].name);
  });
  return at ? routes.pointer(*at) : nullptr;
}

std::shared_ptr<const RouteConfig> RunningSections::take_over(size_t index, std::string_view name,
                                                              std::string_view section, size_t offset,
                                                              int line) {
  if (!global_same_) return nullptr;
  std::shared_ptr<const RouteConfig> running = running_route(index, name);
  if (running == nullptr) return nullptr;
  const RouteConfig& route = *running;
  if (!names_nothing(route)) return nullptr;
  // The whole section byte for byte, header line included: the same keys, values,
  // comments and blank lines, so the same lines relative to the header. Looked for first
  // where the last section taken over ended (a file edited in a few places has its
  // sections in the same order), else at its header's line. A header names its route
  // once in a file, so equal text there is that route's section.
  if (section_at(next_offset_, section)) {
    next_offset_ += section.size();
  } else if (section_at(offset, section)) {
    next_offset_ = offset + section.size();
  } else {
    std::string_view at_line = running_section(route.line);
    if (at_line != section) return nullptr;
    next_offset_ = static_cast<size_t>(at_line.data() - running_->source.data()) + section.size();
  }
  ++taken_;
  if (route.line == line) return running;
  return std::make_shared<const RouteConfig>(shifted_route(route, line - route.line));
}

}  // namespace arus
