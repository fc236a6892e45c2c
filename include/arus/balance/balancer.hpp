// Balancer: chooses the backend for each new connection of one route. One per worker per
// route: not thread-safe and needs no lock; it only reads the shared BackendState.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "arus/balance/backend_health.hpp"
#include "arus/config/config.hpp"

namespace arus {

// How often acquire() and take_free_slot() pick again when another worker took the slot.
inline constexpr int kAcquireAttempts = 4;

class Balancer {
 public:
  // Allocates its per-backend state here, so pick() never does. `backend_count` is the
  // route's number of backends; pick() must be given at most that many.
  Balancer(BalanceMode mode, size_t backend_count);

  BalanceMode mode() const noexcept { return mode_; }

  // pick() and acquire(): no backend may take the connection (all < 0).
  static constexpr int kAllDrained = -1;  // every backend has weight 0, or is drained or disabled
  static constexpr int kAllFull = -2;     // the ones it would pick are at max_connections
  static constexpr int kNoneUp = -3;      // none is up and none may be tried anyway

  // Index of the backend for a new connection, or kAllDrained / kAllFull / kNoneUp.
  // `backends`/`count`: the route's shared states (borrowed for the call). `client_hash`:
  // hash_client_address() of the client, used by source_hash only. `avoid`: the backend
  // whose connect just failed, or -1.
  //
  // Candidates, first non-empty group wins (weight > 0 and room under max_connections
  // always required):
  //   1. up and not `avoid`;  2. up (a lone backend is retried at once);
  //   3. not `avoid` (nothing is up: try a down one rather than refuse);  4. any.
  // Groups 3 and 4 are tried only when no selectable backend is up at all (when the up
  // ones are merely full the client waits for them, or is refused), and leave out
  // backends under active health checks: a check, not a client, finds out when they
  // are back (the client is refused: kNoneUp).
  // Among candidates:
  //   round_robin  smooth weighted round robin (nginx): exact weights over each cycle;
  //   least_conn   lowest active/weight; ties share load by weighted round robin;
  //   source_hash  weighted rendezvous hashing: a client sticks to its backend, and only
  //                the clients of a backend that goes away move.
  // No allocation, no lock; O(count).
  int pick(const BackendState* backends, size_t count, uint64_t now_ms, uint64_t client_hash,
           int avoid) noexcept;

  // pick(), then takes the chosen backend's slot (BackendSlots::try_acquire): the index
  // holds a slot the caller must give back. Below 0 as pick().
  int acquire(const BackendState* backends, size_t count, uint64_t now_ms,
              uint64_t client_hash, int avoid) noexcept;

 private:
  BalanceMode mode_;
  std::vector<int64_t> current_;  // smooth round robin running weights, one per backend
};

// For a client that waited in the queue, on any thread (no Balancer state): takes a slot
// on the least loaded (active/weight) selectable backend with room, preferring the ones
// that are up, and returns its index; -1 when none has room.
int take_free_slot(const BackendState* backends, size_t count, uint64_t now_ms) noexcept;

// 64-bit hash of a client's address bytes (SocketAddress::ip_bytes()) for source_hash:
// FNV-1a, then the splitmix64 finalizer so every input bit reaches every output bit.
uint64_t hash_client_address(std::string_view ip_bytes) noexcept;

// One BackendState per configured backend, same order, weight and hash_key filled in
// (hash_key from the backend's backend_key(), so source_hash survives reordering on
// reload, and an address of a DNS name keeps its clients while the name's other
// addresses come and go).
// Allocates: call at load or reload time, then share the array with the workers.
std::unique_ptr<BackendState[]> make_backend_states(const std::vector<BackendConfig>& backends);

}  // namespace arus
