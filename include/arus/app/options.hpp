// Command-line options (man/arus-proxy.8, OPTIONS). Stateless parsing; no side effects.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "arus/core/log.hpp"
#include "arus/core/result.hpp"

namespace arus {

inline constexpr std::string_view kVersion = "0.1.0";

struct Options {
  std::string config_path = "proxy.conf";
  bool test_only = false;                 // -t: validate, load filters, exit
  std::optional<unsigned> workers;        // -w: overrides [global] workers
  std::optional<log::Level> log_level;    // -l: overrides [global] log_level
  std::optional<std::string> diff_path;   // --diff OLD (with -t): print the reload plan
  bool help = false;
  bool version = false;
};

// Parses argv. An Error is a usage error (exit status 2) with a one-line reason.
Result<Options> parse_options(int argc, char* const* argv);

std::string usage_text();

}  // namespace arus
