// [global] admin_listen and watch_config (SPEC "Admin API and reload plan"): where the
// admin API listens, and whether a saved file reloads by itself. Plain data and a pure
// parser; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

struct AdminConfig {
  std::string listen_name;  // as written; empty = no admin listener
  // `unix:PATH`: the socket's path, resolved against the configuration file's folder
  // as plugin_dir is. Empty for a TCP admin_listen.
  std::string unix_path;
  SocketAddress address;     // a loopback HOST:PORT; empty for `unix:`
  bool watch_config = true;  // off: only SIGHUP and POST /reload apply a changed file

  bool enabled() const noexcept { return !listen_name.empty(); }
};

// admin_listen: "" (off), "unix:PATH" (PATH non-empty and short enough for a socket
// address; relative to the folder of `config_path`), or a HOST:PORT resolved by
// `lookup` to a loopback address. Errors are bare reasons.
Result<void> parse_admin_listen(std::string_view text, std::string_view config_path,
                                const AddressLookup& lookup, AdminConfig& out);

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const SocketAddress& address) noexcept;

}  // namespace arus
