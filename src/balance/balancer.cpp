// Balancer: candidate groups plus three selection rules; not thread-safe (one per worker
// per route). Reads shared BackendState with relaxed loads: a stale view costs at most a
// slightly less even choice.
#include "arus/balance/balancer.hpp"

#include <algorithm>
#include <cmath>

#include "arus/config/backend_addresses.hpp"
#include "arus/core/hash_mix.hpp"

namespace arus {
namespace {

uint64_t fnv1a(std::string_view bytes) noexcept {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Candidate groups, tried in this order; the first with a member wins. The "down" groups
// are tried only when no selectable backend is up at all: when the up ones are merely
// full the client waits for them (or is refused), it is not sent to a dead backend.
enum class Group { kUpOther, kUpAny, kOther, kAny };

// The one health test of a pick: may `backend` take a new connection at `now_ms`?
bool health_allows(const BackendState& backend, uint64_t now_ms) noexcept {
  return backend.health->is_up(now_ms);
}

// Nothing is up: may `backend` still be tried? Only when no active check knows it is
// down: a passively marked backend may have come back, a checked one is known dead.
bool may_try_while_down(const BackendState& backend) noexcept {
  return !backend.health->actively_checked();
}

// The weight picks use: the admin API's when one was set, else the configuration's.
uint32_t weight_of(const BackendState& backend) noexcept {
  return backend.health->admin.weight_for(backend.weight);
}

// Whatever its health: does the configuration and the admin API let it take new
// connections (a weight above 0, not drained or disabled)?
bool is_selectable(const BackendState& backend) noexcept {
  return weight_of(backend) != 0 && backend.health->admin.state() == AdminState::kReady;
}

// Below its max_connections (a hint: the slot is taken by try_acquire afterwards).
bool has_room(const BackendState& backend) noexcept { return backend.slots->has_room(); }

// Every condition that keeps a backend from new connections is tested here, once.
bool is_candidate(const BackendState& backend, size_t index, uint64_t now_ms, Group group,
                  int avoid) noexcept {
  if (!is_selectable(backend) || !has_room(backend)) return false;
  const bool other = static_cast<int>(index) != avoid;
  switch (group) {
    case Group::kUpOther:
      return other && health_allows(backend, now_ms);
    case Group::kUpAny:
      return health_allows(backend, now_ms);
    case Group::kOther:
      return other && may_try_while_down(backend);  // reached when nothing is up
    case Group::kAny:
      break;
  }
  return may_try_while_down(backend);
}

bool any_selectable_up(const BackendState* backends, size_t count, uint64_t now_ms) noexcept {
  for (size_t i = 0; i < count; ++i) {
    if (is_selectable(backends[i]) && health_allows(backends[i], now_ms)) return true;
  }
  return false;
}

bool any_selectable_full(const BackendState* backends, size_t count) noexcept {
  for (size_t i = 0; i < count; ++i) {
    if (is_selectable(backends[i]) && !has_room(backends[i])) return true;
  }
  return false;
}

// The candidates of one pick: a view over the shared states plus the group rule.
struct Candidates {
  const BackendState* backends;
  size_t count;
  uint64_t now_ms;
  Group group;
  int avoid;
  bool contains(size_t i) const noexcept {
    return is_candidate(backends[i], i, now_ms, group, avoid);
  }
};

int pick_round_robin(const Candidates& c, std::vector<int64_t>& current) noexcept {
  // Smooth weighted round robin (nginx ngx_http_upstream_get_peer): every candidate gains
  // its weight, the highest wins and pays back the total. Over sum(weights) picks each
  // backend is chosen exactly `weight` times, interleaved rather than in bursts.
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < c.count; ++i) {
    if (!c.contains(i)) continue;
    const int64_t weight = weight_of(c.backends[i]);
    current[i] += weight;
    total += weight;
    if (best < 0 || current[i] > current[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  if (best >= 0) current[static_cast<size_t>(best)] -= total;
  return best;
}

int pick_least_conn(const Candidates& c, std::vector<int64_t>& current) noexcept {
  // Pass 1: the lowest active/weight, compared as a1*w2 < a2*w1 (no division; both
  // factors fit in 32 bits, so the products cannot overflow).
  int least = -1;
  uint64_t least_active = 0;
  uint64_t least_weight = 1;
  for (size_t i = 0; i < c.count; ++i) {
    if (!c.contains(i)) continue;
    const uint64_t active = c.backends[i].slots->active();
    const uint64_t weight = weight_of(c.backends[i]);
    if (least < 0 || active * least_weight < least_active * weight) {
      least = static_cast<int>(i);
      least_active = active;
      least_weight = weight;
    }
  }
  if (least < 0) return -1;
  // Pass 2: smooth weighted round robin among the backends tied at that load, so equal
  // backends take turns instead of the first one getting every connection. Counts may
  // have moved since pass 1; if no backend qualifies any more, keep pass 1's answer.
  int best = -1;
  int64_t total = 0;
  for (size_t i = 0; i < c.count; ++i) {
    if (!c.contains(i)) continue;
    const uint64_t active = c.backends[i].slots->active();
    const uint64_t weight = weight_of(c.backends[i]);
    if (active * least_weight > least_active * weight) continue;
    current[i] += static_cast<int64_t>(weight);
    total += static_cast<int64_t>(weight);
    if (best < 0 || current[i] > current[static_cast<size_t>(best)]) best = static_cast<int>(i);
  }
  if (best < 0) return least;
  current[static_cast<size_t>(best)] -= total;
  return best;
}

int pick_source_hash(const Candidates& c, uint64_t client_hash) noexcept {
  // Weighted rendezvous hashing: each (client, backend) pair gets a pseudo-random
  // u in (0,1); the score weight / -ln(u) is highest for a backend with probability
  // proportional to its weight. Scores do not depend on the other candidates, so removing
  // one backend moves only the clients whose highest score was on it.
  int best = -1;
  double best_score = 0;
  for (size_t i = 0; i < c.count; ++i) {
    if (!c.contains(i)) continue;
    const uint64_t key = c.backends[i].hash_key != 0 ? c.backends[i].hash_key : i + 1;
    const uint64_t h = splitmix64_finalize(client_hash ^ splitmix64_finalize(key));
    // 52 bits plus a half: strictly inside (0,1), so -ln(u) is finite and > 0.
    const double u = (static_cast<double>(h >> 12) + 0.5) * 0x1p-52;
    const double score = static_cast<double>(weight_of(c.backends[i])) / -std::log(u);
    if (best < 0 || score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

}  // namespace

Balancer::Balancer(BalanceMode mode, size_t backend_count)
    : mode_(mode), current_(backend_count, 0) {}

int Balancer::pick(const BackendState* backends, size_t count, uint64_t now_ms,
                   uint64_t client_hash, int avoid) noexcept {
  count = std::min(count, current_.size());
  // Try each candidate group in turn. Health may change under us (other workers record
  // results), so a group found non-empty could be empty a moment later: falling through
  // to the next group, ending with "any weight > 0", handles that without a snapshot.
  const bool up_exists = any_selectable_up(backends, count, now_ms);
  for (Group group : {Group::kUpOther, Group::kUpAny, Group::kOther, Group::kAny}) {
    if (up_exists && (group == Group::kOther || group == Group::kAny)) break;
    const Candidates candidates{backends, count, now_ms, group, avoid};
    int chosen = -1;
    switch (mode_) {
      case BalanceMode::kRoundRobin:
        chosen = pick_round_robin(candidates, current_);
        break;
      case BalanceMode::kLeastConn:
        chosen = pick_least_conn(candidates, current_);
        break;
      case BalanceMode::kSourceHash:
        chosen = pick_source_hash(candidates, client_hash);
        break;
    }
    if (chosen >= 0) return chosen;
  }
  if (any_selectable_full(backends, count)) return kAllFull;
  for (size_t i = 0; i < count; ++i) {
    if (is_selectable(backends[i])) return kNoneUp;
  }
  return kAllDrained;
}

int Balancer::acquire(const BackendState* backends, size_t count, uint64_t now_ms,
                      uint64_t client_hash, int avoid) noexcept {
  // Another worker may take the last slot between pick() and try_acquire(): pick again,
  // a few times, then treat the route as full.
  for (int attempt = 0; attempt < kAcquireAttempts; ++attempt) {
    int chosen = pick(backends, count, now_ms, client_hash, avoid);
    if (chosen < 0) return chosen;
    if (backends[chosen].slots->try_acquire()) return chosen;
  }
  return kAllFull;
}

int take_free_slot(const BackendState* backends, size_t count, uint64_t now_ms) noexcept {
  const bool up_exists = any_selectable_up(backends, count, now_ms);
  for (int attempt = 0; attempt < kAcquireAttempts; ++attempt) {
    // The least loaded backend with room (active/weight, as least_conn's first pass).
    int best = -1;
    uint64_t best_active = 0;
    uint64_t best_weight = 1;
    for (size_t i = 0; i < count; ++i) {
      const BackendState& backend = backends[i];
      if (!is_selectable(backend) || !has_room(backend)) continue;
      if (up_exists ? !health_allows(backend, now_ms) : !may_try_while_down(backend)) continue;
      const uint64_t active = backend.slots->active();
      const uint64_t weight = weight_of(backend);
      if (best < 0 || active * best_weight < best_active * weight) {
        best = static_cast<int>(i);
        best_active = active;
        best_weight = weight;
      }
    }
    if (best < 0) return -1;
    if (backends[best].slots->try_acquire()) return best;
  }
  return -1;
}

uint64_t hash_client_address(std::string_view ip_bytes) noexcept {
  return splitmix64_finalize(fnv1a(ip_bytes));
}

std::unique_ptr<BackendState[]> make_backend_states(const std::vector<BackendConfig>& backends) {
  auto states = std::make_unique<BackendState[]>(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    states[i].weight = backends[i].weight;
    states[i].slots = std::make_shared<BackendSlots>(backends[i].max_connections);
    // Never 0, which would mean "use the index". Two backends with the same name would
    // share a key and the second would get no source_hash traffic; the config loader is
    // expected to reject duplicates.
    states[i].hash_key = hash_client_address(backend_key(backends[i])) | 1;
  }
  return states;
}

}  // namespace arus
