// Admission to an HttpServer listener: given the clients already open, decides whether
// a new one is admitted, admitted after an idle client is closed to make room, or refused.
// Plain logic without sockets or clocks (HttpServer applies it); thread-compatible.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace arus {

// A client's IP address without its port: the unit of the per-source cap.
class SourceKey {
 public:
  SourceKey() = default;
  // `ip_bytes`: 4 (IPv4) or 16 (IPv6) address bytes, as SocketAddress::ip_bytes() gives.
  explicit SourceKey(std::string_view ip_bytes) noexcept;
  friend bool operator==(const SourceKey&, const SourceKey&) = default;

 private:
  std::array<unsigned char, 16> bytes_{};
  uint8_t size_ = 0;
};

// What admission needs to know about one open client.
struct ClientSlot {
  SourceKey source;
  // Between requests: nothing being received, nothing left to send, no close under way.
  // Only such a client may be closed to make room: it loses no request or response.
  bool idle = false;
  uint64_t idle_order = 0;  // grows each time a client becomes idle: smallest = oldest
};

struct SlotLimits {
  size_t max_clients = 0;             // open clients in all
  size_t max_clients_per_source = 0;  // open clients of one source address; 0 = no cap
};

struct SlotChoice {
  enum class Action { kAdmit, kCloseThenAdmit, kRefuse };
  enum class Cap { kNone, kSource, kTotal };  // the cap that the new client meets
  Action action = Action::kAdmit;
  Cap cap = Cap::kNone;
  size_t victim = 0;  // kCloseThenAdmit: index into `open` of the client to close
};

// The choice for a new client from `source`. A source at its own cap makes room among
// its own clients only (its oldest idle one), else it is refused, so no source can push
// out another's; a full table closes the oldest idle client of any source (as nginx
// reuses keep-alive connections), else the newcomer is refused.
SlotChoice choose_slot(std::span<const ClientSlot> open, const SourceKey& source,
                       const SlotLimits& limits) noexcept;

}  // namespace arus
