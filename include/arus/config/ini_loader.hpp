// Turns proxy.conf text into a validated Config, or an Error naming file, line, section
// and key. Stateless; safe to call from any thread (name resolution blocks: the reload
// path runs it on a Resolver's thread).
#pragma once

#include <string>
#include <string_view>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

// Reads and parses the file at `path`. Relative paths inside it (plugin_dir) are taken
// relative to the folder of `path` as given, symlinks not resolved. Names in listen,
// backend and stats_listen go through `lookup`, told the file, line, section and key
// asking; without one, resolve() answers.
Result<Config> load_config_file(const std::string& path);
Result<Config> load_config_file(const std::string& path, const NameLookup& lookup);

// Parses `text` as if read from `path` (used in messages and to resolve relative paths).
Result<Config> parse_config(std::string_view text, const std::string& path);
Result<Config> parse_config(std::string_view text, const std::string& path,
                            const NameLookup& lookup);

}  // namespace arus
