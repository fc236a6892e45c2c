// Single-value parsers for the configuration loader; reasons only, no locations.
#include "arus/config/value_parsers.hpp"

#include <cctype>
#include <optional>

#include "arus/config/backend_addresses.hpp"

namespace arus {
namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<uint64_t> parse_uint(std::string_view text, uint64_t min, uint64_t max) {
  if (text.empty()) return Error{"missing value (expected a number)"};
  uint64_t value = 0;
  bool overflow = false;
  for (char c : text) {
    if (c < '0' || c > '9') return Error{quoted(text) + " is not a number (digits only)"};
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) overflow = true;
    if (!overflow) value = value * 10 + digit;
  }
  if (overflow || value < min || value > max) {
    return Error{std::string(text) + " out of range (" + std::to_string(min) + "-" +
                 std::to_string(max) + ")"};
  }
  return value;
}

Result<bool> parse_bool(std::string_view text) {
  for (std::string_view yes : {"on", "true", "yes", "1"}) {
    if (equals_ignoring_case(text, yes)) return true;
  }
  for (std::string_view no : {"off", "false", "no", "0"}) {
    if (equals_ignoring_case(text, no)) return false;
  }
  return Error{quoted(text) + " is not a boolean (on/off, true/false, yes/no, 1/0)"};
}

Result<BalanceMode> parse_balance(std::string_view text) {
  for (BalanceMode mode :
       {BalanceMode::kRoundRobin, BalanceMode::kLeastConn, BalanceMode::kSourceHash}) {
    if (text == balance_name(mode)) return mode;
  }
  return Error{"unknown mode " + quoted(text) +
               " (expected round_robin, least_conn or source_hash)"};
}

std::string_view balance_name(BalanceMode mode) {
  switch (mode) {
    case BalanceMode::kRoundRobin:
      return "round_robin";
    case BalanceMode::kLeastConn:
      return "least_conn";
    case BalanceMode::kSourceHash:
      return "source_hash";
  }
  return "?";
}

Result<log::Level> parse_log_level(std::string_view text) {
  std::optional<log::Level> level = log::parse_level(text);
  if (!level)
    return Error{"unknown level " + quoted(text) + " (expected error, warn, info or debug)"};
  return *level;
}

Result<SocketAddress> parse_address(std::string_view text, const AddressLookup& lookup) {
  if (text.empty()) return Error{"missing address (expected HOST:PORT)"};
  Result<HostPort> host_port = split_host_port(text);
  if (!host_port) return Error{host_port.error().message};
  return lookup(host_port.value());
}

Result<SocketAddress> parse_stats_listen(std::string_view text, const AddressLookup& lookup) {
  if (text.empty()) return SocketAddress();
  return parse_address(text, lookup);
}

Result<BackendSpec> parse_backend(std::string_view text, const AddressesLookup& lookup) {
  size_t end = 0;
  while (end < text.size() && !is_space(text[end])) ++end;
  BackendSpec spec;
  spec.name = std::string(text.substr(0, end));
  if (spec.name.empty()) return Error{"missing address (expected HOST:PORT)"};
  Result<HostPort> host_port = split_host_port(spec.name);
  if (!host_port) return Error{host_port.error().message};
  Result<std::vector<SocketAddress>> addresses = lookup(host_port.value());
  if (!addresses) return Error{addresses.error().message};
  if (addresses->empty()) return Error{"cannot resolve '" + host_port->host + "': no address"};
  spec.by_name = !is_ip_literal(host_port->host);
  // A literal is one backend, as it always was, whatever a stand-in lookup answers.
  if (!spec.by_name) addresses->resize(1);
  spec.addresses = stable_address_order(std::move(addresses).value());
  spec.address = spec.addresses.front();

  // Options: whitespace-separated NAME=N, each at most once.
  constexpr std::string_view kExpected = "(expected weight=N or max_connections=N)";
  bool seen_weight = false;
  bool seen_cap = false;
  std::string_view rest = text.substr(end);
  for (;;) {
    while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
    if (rest.empty()) return spec;
    size_t token_end = 0;
    while (token_end < rest.size() && !is_space(rest[token_end])) ++token_end;
    std::string_view token = rest.substr(0, token_end);
    rest.remove_prefix(token_end);
    size_t equals = token.find('=');
    std::string_view option = token.substr(0, equals);
    bool is_weight = option == "weight";
    if (equals == std::string_view::npos || (!is_weight && option != "max_connections")) {
      return Error{"unexpected " + quoted(token) + " after the address " + std::string(kExpected)};
    }
    bool& seen = is_weight ? seen_weight : seen_cap;
    if (seen) return Error{std::string(option) + "= given twice"};
    seen = true;
    std::string_view number = token.substr(equals + 1);
    if (number.empty()) {
      return Error{std::string(option) + "= without a number (expected " + std::string(option) +
                   "=N)"};
    }
    if (is_weight) {
      Result<uint64_t> weight = parse_uint(number, 0, 256);
      if (!weight) return Error{"weight " + weight.error().message};
      spec.weight = static_cast<uint32_t>(weight.value());
    } else {
      Result<uint64_t> cap = parse_uint(number, 0, 10000000);
      if (!cap) return Error{"max_connections " + cap.error().message};
      spec.max_connections = static_cast<uint32_t>(cap.value());
    }
  }
}

Result<void> check_plugin_file_name(std::string_view name) {
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Error{quoted(name) + " is not a plain file name (filters load only from plugin_dir)"};
  }
  return {};
}

std::string resolve_relative_path(std::string_view config_path, std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (!path.empty() && path.front() == '/') return std::string(path);
  size_t slash = config_path.rfind('/');
  std::string folder;
  if (slash == std::string_view::npos) {
    folder = ".";
  } else if (slash == 0) {
    folder = "/";
  } else {
    folder = std::string(config_path.substr(0, slash));
  }
  if (folder.back() != '/') folder += '/';
  return folder + std::string(path);
}

}  // namespace arus
