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
// A reload's: each [route:NAME] section written as in `running` (the configuration in
// force, read from the same path; may be null) is not parsed again: its route is taken
// over (config/section_reuse.hpp), shared with `running` where its lines did not move.
// Every check across routes and [global] still runs over all routes.
Result<Config> load_config_file(const std::string& path, const NameLookup& lookup,
                                const Config* running);

// Parses `text` as if read from `path` (used in messages and to resolve relative paths).
Result<Config> parse_config(std::string_view text, const std::string& path);
Result<Config> parse_config(std::string_view text, const std::string& path,
                            const NameLookup& lookup);
Result<Config> parse_config(std::string_view text, const std::string& path,
                            const NameLookup& lookup, const Config* running);

}  // namespace arus
