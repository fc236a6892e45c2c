// The one format of configuration errors, "FILE:LINE: [section] key: reason", for the
// loader and for the checks that run after it (run user, filters, binding), so every
// error an operator sees points at the line to fix. Stateless; safe from any thread.
#pragma once

#include <string_view>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"

namespace arus {

// "FILE:LINE: [section] key: reason", leaving out the parts that are empty (a `line` of
// 0 leaves out the line). `section` is written as it appears, brackets included.
Error config_error(std::string_view path, int line, std::string_view section,
                   std::string_view key, std::string_view reason);

// The same, placed at the first line of `key` in [global] (its header's line when the
// key was not written), e.g. "proxy.conf:5: [global] user: user 'x': no such user".
Error global_key_error(const Config& config, std::string_view key, std::string_view reason);

// The same for `key` of `route` (the [route:NAME] header's line when not written).
Error route_key_error(const Config& config, const RouteConfig& route, std::string_view key,
                      std::string_view reason);

}  // namespace arus
