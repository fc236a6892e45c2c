// admin_listen parsing: the unix: form, or a loopback address (the admin API has no
// authentication; only the host's own users may reach it).
#include "arus/config/admin_config.hpp"

#include <sys/un.h>

#include <cstring>

#include "arus/config/value_parsers.hpp"

namespace arus {

bool is_loopback(const SocketAddress& address) noexcept {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.sockaddr_ptr());
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.sockaddr_ptr());
    if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

Result<void> parse_admin_listen(std::string_view text, std::string_view config_path,
                                const AddressLookup& lookup, AdminConfig& out) {
  out.listen_name = std::string(text);
  out.unix_path.clear();
  out.address = SocketAddress();
  if (text.empty()) return {};
  constexpr std::string_view kUnix = "unix:";
  if (text.substr(0, kUnix.size()) == kUnix) {
    std::string_view path = text.substr(kUnix.size());
    if (path.empty()) return Error{"empty path after 'unix:'"};
    out.unix_path = resolve_relative_path(config_path, path);
    if (out.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error{"socket path too long (" + std::to_string(out.unix_path.size()) +
                   " bytes, at most " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + ")"};
    }
    return {};
  }
  Result<SocketAddress> address = parse_address(text, lookup);
  if (!address) return Error{address.error().message};
  if (!is_loopback(*address)) {
    return Error{"'" + std::string(text) +
                 "' is not a loopback address (the admin API has no authentication: use "
                 "unix:PATH or 127.0.0.1:PORT)"};
  }
  out.address = *address;
  return {};
}

}  // namespace arus
