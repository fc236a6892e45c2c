// HealthChecker: the active health checks of every backend of the process, on a thread
// of its own with its own reactor (docs/architecture.md, "Active health checks", says
// why). Other threads talk to it only through update() and stop(); what it finds goes
// into each backend's shared BackendHealth, which the workers' balancers read.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "arus/balance/backend_health.hpp"
#include "arus/config/health_check_config.hpp"
#include "arus/config/proxy_protocol_config.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

// One backend to check, as the running configuration has it.
struct HealthTarget {
  std::string route;    // the route's name, for logs
  std::string backend;  // HOST:PORT as written: logs, and the Host header of `http`
  SocketAddress address;
  HealthCheckConfig check;  // enabled()
  // Its one shared state: also the checker's key, so a backend a reload keeps (the same
  // object handed over) keeps its rise/fall counts and its place in the interval.
  std::shared_ptr<BackendHealth> health;
  // The route's send_proxy: a backend that expects a PROXY header gets a LOCAL one (it
  // names no client) before the check's own bytes.
  SendProxy send_proxy = SendProxy::kOff;
};

// The bytes a check sends first (empty for `connect`): health_check_send, "PING\r\n",
// or "GET PATH HTTP/1.1" with "Host: HOST:PORT" and "Connection: close"; on a route with
// send_proxy, after a PROXY LOCAL header (v2), or "PROXY UNKNOWN\r\n" (v1).
std::string check_request(const HealthTarget& target);

// When to check again after a check that started at `started_ms`: one interval later
// on average, on a phase of the interval that depends only on `phase_key` (route and
// backend), so many backends checked together at start spread over the interval and stay
// spread: over 100 slots of the interval (one per millisecond when it is shorter), each
// slot's checks starting together. Always in [started_ms + interval/2,
// started_ms + interval*3/2).
uint64_t next_check_ms(uint64_t started_ms, uint64_t interval_ms, uint64_t phase_key) noexcept;

class HealthChecker {
 public:
  static Result<std::unique_ptr<HealthChecker>> create();
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();  // spawns the thread

  // Thread-safe. From now on checks exactly `targets`: a backend checked already (same
  // health object) keeps its counts and schedule under its new settings; a new one is
  // checked at once; one left out stops being checked (a check in flight is dropped and
  // its socket closed).
  void update(std::vector<HealthTarget> targets);

  // Thread-safe, idempotent: drops every check (closing its socket) and joins the thread.
  void stop();

 private:
  class Check;
  explicit HealthChecker(std::unique_ptr<Reactor> reactor);
  // On the checker thread. Allocates; out of memory ends the process (std::terminate).
  void apply(std::vector<HealthTarget> targets);

  std::unique_ptr<Reactor> reactor_;
  bool stopping_ = false;  // checker thread only
  // Checker thread only: keyed by the health object each check reports into.
  std::unordered_map<const BackendHealth*, std::unique_ptr<Check>> checks_;
  std::thread thread_;
};

}  // namespace arus
