// DnsRefresher: resolves every backend line written as a DNS name again every
// dns_refresh_ms of its route, on a Resolver's threads (never on a worker or the control
// thread), at most one lookup in flight per line, each bounded in time, and hands each
// answer to its owner on the control thread. Control thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/net/address.hpp"
#include "arus/net/resolver.hpp"
#include "arus/reactor/reactor.hpp"

namespace arus {

class DnsRefresher {
 public:
  // How long one refresh lookup may take; its error then names the bound.
  static constexpr uint64_t kLookupTimeoutMs = 5000;

  // One refresh's answer for the line written as `backend` (NAME:PORT) in `route`: every
  // address, or why there is none.
  using Answer = std::function<void(const std::string& route, const std::string& backend,
                                    Result<std::vector<SocketAddress>> answer)>;

  // `control` and `resolver` must outlive this; `resolver` posts to `control`.
  DnsRefresher(Reactor& control, Resolver& resolver, Answer answer);
  ~DnsRefresher();
  DnsRefresher(const DnsRefresher&) = delete;
  DnsRefresher& operator=(const DnsRefresher&) = delete;

  // Follows the named lines of `config` (a loaded file: call at start and after every
  // applied reload, not for a refresh's own snapshot). A line kept from the previous
  // file keeps its schedule; lookups started before this call are dropped when they
  // answer, since the file's own resolution is as new (the newer file wins).
  void follow(const Config& config);

  // Stops every timer (a draining proxy looks nothing up); answers still in flight are
  // dropped.
  void stop() noexcept;

 private:
  struct Line;
  void ask(Line& line) noexcept;
  void on_answer(uint64_t id, uint64_t epoch, Result<std::vector<SocketAddress>> answer) noexcept;

  Reactor& control_;
  Resolver& resolver_;
  Answer answer_;
  std::vector<std::unique_ptr<Line>> lines_;
  uint64_t next_id_ = 0;
  uint64_t epoch_ = 0;  // +1 per follow() and stop(): older answers are dropped
};

}  // namespace arus
