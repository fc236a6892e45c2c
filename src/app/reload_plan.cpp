// plan_reload: route and key comparisons between two configurations, and their JSON.
#include "arus/app/reload_plan.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "arus/config/written_keys.hpp"
#include "arus/stats/text_escape.hpp"

namespace arus {
namespace {

// A configuration's routes by name and its listen addresses, looked up once per route of
// the other configuration: thousands of routes must not cost routes x routes steps.
struct RouteIndex {
  explicit RouteIndex(const Config& config) {
    by_name.reserve(config.routes.size());
    listening.reserve(config.routes.size());
    for (const RouteConfig& route : config.routes) {
      by_name.emplace(route.name, &route);
      listening.insert(route.listen);
    }
  }
  const RouteConfig* find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
  bool listens_on(const SocketAddress& address) const { return listening.contains(address); }

  std::unordered_map<std::string_view, const RouteConfig*> by_name;
  std::unordered_set<SocketAddress, SocketAddressHash> listening;
};

bool has_backend(const RouteConfig& route, std::string_view name) {
  return std::any_of(route.backends.begin(), route.backends.end(),
                     [&](const BackendConfig& b) { return b.name == name; });
}

// Keys present in either section whose values (all of them, in order) differ.
std::vector<std::string> changed_keys(const WrittenKeys* before, const WrittenKeys* after) {
  static const WrittenKeys kNone;
  const WrittenKeys& a = before != nullptr ? *before : kNone;
  const WrittenKeys& b = after != nullptr ? *after : kNone;
  std::set<std::string> keys;
  for (const auto& [key, values] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != values) keys.insert(key);
  }
  for (const auto& [key, values] : b) {
    if (!a.contains(key)) keys.insert(key);
  }
  return {keys.begin(), keys.end()};
}

const WrittenKeys* section(const std::map<std::string, WrittenKeys, std::less<>>& sections,
                           const std::string& name) {
  auto it = sections.find(name);
  return it == sections.end() ? nullptr : &it->second;
}

using SectionKeys = std::map<std::string, WrittenKeys, std::less<>>;

// The keys of one section that differ between two files. Sections of the same text have
// the same keys: only those whose text differs are parsed, so a reload of thousands of
// routes that touches a few parses a few. Where a section's text cannot be told apart,
// both whole files are parsed once (`whole` caches them).
class SectionComparer {
 public:
  SectionComparer(const Config& before, const Config& after)
      : before_(before), after_(after), before_texts_(before.source), after_texts_(after.source) {}

  std::vector<std::string> changed(const std::string& name) {
    auto a = before_texts_.find(name);
    auto b = after_texts_.find(name);
    if (a && b) {
      if (*a == *b) return {};
      return changed_keys(section(written_keys(*a), name), section(written_keys(*b), name));
    }
    if (!whole_) whole_.emplace(written_keys(before_.source), written_keys(after_.source));
    return changed_keys(section(whole_->first, name), section(whole_->second, name));
  }

 private:
  const Config& before_;
  const Config& after_;
  SectionTexts before_texts_;
  SectionTexts after_texts_;
  std::optional<std::pair<SectionKeys, SectionKeys>> whole_;
};

void append_string_array(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    append_json_string(out, items[i]);
  }
  out += ']';
}

void append_item_array(std::string& out, const std::vector<ReloadPlan::RouteItem>& items,
                       const char* value_key) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += "{\"route\": ";
    append_json_string(out, items[i].route);
    out += ", \"";
    out += value_key;
    out += "\": ";
    append_json_string(out, items[i].value);
    out += '}';
  }
  out += ']';
}

}  // namespace

bool ReloadPlan::changes_anything() const noexcept {
  return !routes_added.empty() || !routes_removed.empty() || !routes_changed.empty() ||
         !listeners_bound.empty() || !listeners_closed.empty() || !backends_added.empty() ||
         !backends_removed.empty() || !filters_loaded.empty() || !filters_swapped.empty() ||
         !filters_unloaded.empty() || !global_changed.empty() || !restart_needed.empty();
}

std::vector<std::string> restart_only_changes(const GlobalConfig& running,
                                              const GlobalConfig& next) {
  std::vector<std::string> keys;
  if (next.workers != running.workers) keys.emplace_back("workers");
  if (next.user != running.user) keys.emplace_back("user");
  if (next.group != running.group) keys.emplace_back("group");
  return keys;
}

ReloadPlan plan_reload(const Config& running, const Config& next, const LiveConnections& live) {
  ReloadPlan plan;
  SectionComparer sections(running, next);
  const RouteIndex running_routes(running);
  const RouteIndex next_routes(next);

  for (const RouteConfig& route : next.routes) {
    const RouteConfig* old = running_routes.find(route.name);
    if (old == nullptr) {
      plan.routes_added.push_back(route.name);
      for (const BackendConfig& b : route.backends) plan.backends_added.push_back({route.name, b.name});
      if (!route.filter.empty()) plan.filters_loaded.push_back({route.name, route.filter});
      continue;
    }
    const std::string section_name = "route:" + route.name;
    auto keys = sections.changed(section_name);
    if (!keys.empty()) plan.routes_changed.push_back({route.name, std::move(keys)});
    for (const BackendConfig& b : route.backends) {
      if (!has_backend(*old, b.name)) plan.backends_added.push_back({route.name, b.name});
    }
    for (const BackendConfig& b : old->backends) {
      if (!has_backend(route, b.name)) plan.backends_removed.push_back({route.name, b.name});
    }
    if (old->filter.empty() && !route.filter.empty()) {
      plan.filters_loaded.push_back({route.name, route.filter});
    } else if (!old->filter.empty() && route.filter.empty()) {
      plan.filters_unloaded.push_back({route.name, old->filter});
    } else if (!route.filter.empty() &&
               (old->filter != route.filter || old->filter_args != route.filter_args ||
                running.global.plugin_dir != next.global.plugin_dir)) {
      plan.filters_swapped.push_back({route.name, route.filter});
    }
  }
  for (const RouteConfig& old : running.routes) {
    if (next_routes.find(old.name) != nullptr) continue;
    plan.routes_removed.push_back(old.name);
    for (const BackendConfig& b : old.backends) plan.backends_removed.push_back({old.name, b.name});
    if (!old.filter.empty()) plan.filters_unloaded.push_back({old.name, old.filter});
  }

  for (const RouteConfig& route : next.routes) {
    (running_routes.listens_on(route.listen) ? plan.listeners_kept : plan.listeners_bound)
        .push_back(route.listen_name);
  }
  for (const RouteConfig& old : running.routes) {
    if (!next_routes.listens_on(old.listen)) plan.listeners_closed.push_back(old.listen_name);
  }

  plan.global_changed = sections.changed("global");
  plan.restart_needed = restart_only_changes(running.global, next.global);
  for (const RouteConfig& old : running.routes) {
    auto it = live.find(old.name);
    if (it != live.end()) plan.connections_staying_on_old_generation.emplace_back(old.name, it->second);
  }
  return plan;
}

std::string render_plan_json(const ReloadPlan& plan) {
  std::string out = "{\"routes\": {\"added\": ";
  append_string_array(out, plan.routes_added);
  out += ", \"removed\": ";
  append_string_array(out, plan.routes_removed);
  out += ", \"changed\": [";
  for (size_t i = 0; i < plan.routes_changed.size(); ++i) {
    if (i > 0) out += ", ";
    out += "{\"name\": ";
    append_json_string(out, plan.routes_changed[i].name);
    out += ", \"keys\": ";
    append_string_array(out, plan.routes_changed[i].keys);
    out += '}';
  }
  out += "]}, \"listeners\": {\"bound\": ";
  append_string_array(out, plan.listeners_bound);
  out += ", \"kept\": ";
  append_string_array(out, plan.listeners_kept);
  out += ", \"closed\": ";
  append_string_array(out, plan.listeners_closed);
  out += "}, \"backends\": {\"added\": ";
  append_item_array(out, plan.backends_added, "backend");
  out += ", \"removed\": ";
  append_item_array(out, plan.backends_removed, "backend");
  out += "}, \"filters\": {\"loaded\": ";
  append_item_array(out, plan.filters_loaded, "filter");
  out += ", \"swapped\": ";
  append_item_array(out, plan.filters_swapped, "filter");
  out += ", \"unloaded\": ";
  append_item_array(out, plan.filters_unloaded, "filter");
  out += "}, \"global\": {\"changed\": ";
  append_string_array(out, plan.global_changed);
  out += "}, \"restart_needed\": ";
  append_string_array(out, plan.restart_needed);
  out += ", \"connections_staying_on_old_generation\": {";
  const auto& staying = plan.connections_staying_on_old_generation;
  for (size_t i = 0; i < staying.size(); ++i) {
    if (i > 0) out += ", ";
    append_json_string(out, staying[i].first);
    out += ": " + std::to_string(staying[i].second);
  }
  out += "}}";
  return out;
}

}  // namespace arus
