// An HttpServer's admission policy: per-source cap first, then the global cap.
#include "arus/http/client_slots.hpp"

#include <algorithm>

namespace arus {

SourceKey::SourceKey(std::string_view ip_bytes) noexcept
    : size_(static_cast<uint8_t>(std::min(ip_bytes.size(), bytes_.size()))) {
  std::copy_n(ip_bytes.begin(), size_, bytes_.begin());
}

SlotChoice choose_slot(std::span<const ClientSlot> open, const SourceKey& source,
                       const SlotLimits& limits) noexcept {
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t from_source = 0;
  size_t oldest_idle = kNone;
  size_t oldest_idle_from_source = kNone;
  auto older = [&open](size_t i, size_t than) {
    return than == kNone || open[i].idle_order < open[than].idle_order;
  };
  for (size_t i = 0; i < open.size(); ++i) {
    const bool same_source = open[i].source == source;
    from_source += same_source;
    if (!open[i].idle) continue;
    if (older(i, oldest_idle)) oldest_idle = i;
    if (same_source && older(i, oldest_idle_from_source)) oldest_idle_from_source = i;
  }
  auto make_room = [](size_t victim, SlotChoice::Cap cap) {
    if (victim == kNone) return SlotChoice{SlotChoice::Action::kRefuse, cap, 0};
    return SlotChoice{SlotChoice::Action::kCloseThenAdmit, cap, victim};
  };
  if (limits.max_clients_per_source > 0 && from_source >= limits.max_clients_per_source) {
    // Closing one of its own keeps the total unchanged, so the global cap holds too.
    return make_room(oldest_idle_from_source, SlotChoice::Cap::kSource);
  }
  if (open.size() >= limits.max_clients) {
    if (limits.max_clients == 0) return make_room(kNone, SlotChoice::Cap::kTotal);
    return make_room(oldest_idle, SlotChoice::Cap::kTotal);
  }
  return SlotChoice{};
}

}  // namespace arus
