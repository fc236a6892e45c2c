// RunningSections: which sections of a new file are written as the running ones.
#include "arus/config/section_reuse.hpp"

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
  for (size_t at = from; at < text.size();) {
    size_t first = at;
    while (first < text.size() && leading_space(text[first])) ++first;
    if (first < text.size() && text[first] == '[') return at;
    size_t newline = text.find('\n', first);
    if (newline == std::string_view::npos) break;
    at = newline + 1;
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

void RunningSections::global_section(std::string_view section) {
  global_same_ = enabled_ && running_->global.line != 0 &&
                 running_section(running_->global.line) == section;
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

const std::shared_ptr<const RouteConfig>* RunningSections::running_route(size_t index,
                                                                         std::string_view name) {
  const auto& routes = running_->routes;
  // A reload that adds or removes no route above this one finds it at the same place.
  if (index < routes.size() && routes[index].name == name) {
    found_ = routes.pointer(index);
    return &found_;
  }
  if (by_name_.empty()) {
    by_name_.reserve(routes.size());
    for (size_t i = 0; i < routes.size(); ++i) by_name_.emplace(routes[i].name, i);
  }
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return nullptr;
  found_ = routes.pointer(it->second);
  return &found_;
}

std::shared_ptr<const RouteConfig> RunningSections::take_over(size_t index, std::string_view name,
                                                              std::string_view section, int line) {
  if (!global_same_) return nullptr;
  const std::shared_ptr<const RouteConfig>* running = running_route(index, name);
  if (running == nullptr) return nullptr;
  const RouteConfig& route = **running;
  if (!names_nothing(route)) return nullptr;
  // The whole section byte for byte, header line included: the same keys, values,
  // comments and blank lines, so the same lines relative to the header.
  if (running_section(route.line) != section) return nullptr;
  ++taken_;
  if (route.line == line) return *running;
  return std::make_shared<const RouteConfig>(shifted_route(route, line - route.line));
}

}  // namespace arus
