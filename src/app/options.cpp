// getopt_long-based command-line parsing.
#include "arus/app/options.hpp"

#include <getopt.h>

#include <charconv>
#include <vector>

namespace arus {

std::string usage_text() {
  return "usage: arus-proxy [-c FILE] [-t [--diff OLD]] [-w N] [-l LEVEL] [-h] [-V]\n"
         "  -c, --config FILE    configuration (default: ./proxy.conf)\n"
         "  -t, --test           parse and validate FILE, load its filters, report, exit\n"
         "      --diff OLD       with -t: print the reload plan from OLD to FILE as JSON;\n"
         "                       exit 0 no change, 3 changes, 1 FILE invalid\n"
         "  -w, --workers N      override [global] workers (0 = one per CPU)\n"
         "  -l, --log-level L    override [global] log_level (error, warn, info, debug)\n"
         "  -h, --help           usage, exit 0\n"
         "  -V, --version        version, exit 0\n";
}

Result<Options> parse_options(int argc, char* const* argv) {
  static const option kLongOptions[] = {
      {"config", required_argument, nullptr, 'c'}, {"test", no_argument, nullptr, 't'},
      {"workers", required_argument, nullptr, 'w'}, {"log-level", required_argument, nullptr, 'l'},
      {"help", no_argument, nullptr, 'h'},          {"version", no_argument, nullptr, 'V'},
      {"diff", required_argument, nullptr, 'D'},    {nullptr, 0, nullptr, 0}};
  // getopt_long permutes argv; work on a copy so the caller's array stays as it was.
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  optind = 0;  // full re-initialisation, so parse_options can run more than once
  opterr = 0;
  Options options;
  int c;
  while ((c = getopt_long(argc, args.data(), ":c:tw:l:hV", kLongOptions, nullptr)) != -1) {
    switch (c) {
      case 'c':
        options.config_path = optarg;
        break;
      case 't':
        options.test_only = true;
        break;
      case 'w': {
        std::string_view text(optarg);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value > 1024) {
          return Error{"invalid --workers '" + std::string(text) + "' (expected 0-1024)"};
        }
        options.workers = value;
        break;
      }
      case 'l': {
        auto level = log::parse_level(optarg);
        if (!level) {
          return Error{"invalid --log-level '" + std::string(optarg) +
                       "' (expected error, warn, info or debug)"};
        }
        options.log_level = level;
        break;
      }
      case 'h':
        options.help = true;
        break;
      case 'V':
        options.version = true;
        break;
      case 'D':
        options.diff_path = optarg;
        break;
      case ':':
        return Error{"option '" + std::string(args[optind - 1]) + "' needs a value"};
      default:
        return Error{"unknown option '" + std::string(args[optind - 1]) + "'"};
    }
  }
  if (optind < argc) return Error{"unexpected argument '" + std::string(args[optind]) + "'"};
  if (options.diff_path && !options.test_only) return Error{"--diff needs -t"};
  return options;
}

}  // namespace arus
