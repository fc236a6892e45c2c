// Formatting of configuration errors: file, line, section, key, reason.
#include "arus/config/config_error.hpp"

#include <string>

namespace arus {
namespace {

int line_of(const KeyLines& lines, std::string_view key, int section_line) {
  auto it = lines.find(key);
  return it != lines.end() ? it->second : section_line;
}

}  // namespace

Error config_error(std::string_view path, int line, std::string_view section,
                   std::string_view key, std::string_view reason) {
  std::string message(path);
  if (line > 0) message += ":" + std::to_string(line);
  message += ": ";
  if (!section.empty()) message.append(section).append(" ");
  if (!key.empty()) message.append(key).append(": ");
  message.append(reason);
  return Error{std::move(message)};
}

Error global_key_error(const Config& config, std::string_view key, std::string_view reason) {
  const GlobalConfig& global = config.global;
  return config_error(config.path, line_of(global.key_lines, key, global.line), "[global]", key,
                      reason);
}

Error route_key_error(const Config& config, const RouteConfig& route, std::string_view key,
                      std::string_view reason) {
  return config_error(config.path, line_of(route.key_lines, key, route.line),
                      "[route:" + route.name + "]", key, reason);
}

}  // namespace arus
