// DnsRefresher: a timer per named backend line on the control reactor; each tick starts a
// lookup on the Resolver unless one is still running for that line.
#include "arus/app/dns_refresher.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "arus/core/log.hpp"
#include "arus/reactor/timer_wheel.hpp"

namespace arus {

struct DnsRefresher::Line final : public Timer {
  Line(DnsRefresher& owner_ref, uint64_t line_id) : owner(owner_ref), id(line_id) {}
  ~Line() {
    if (scheduled()) owner.control_.timers().cancel(*this);
  }
  void on_timer() noexcept override { owner.ask(*this); }

  DnsRefresher& owner;
  const uint64_t id;
  std::string route;
  std::string backend;  // NAME:PORT as written
  HostPort host_port;
  uint64_t refresh_ms = 0;
  bool in_flight = false;
};

DnsRefresher::DnsRefresher(Reactor& control, Resolver& resolver, Answer answer)
    : control_(control), resolver_(resolver), answer_(std::move(answer)) {}

DnsRefresher::~DnsRefresher() = default;

void DnsRefresher::follow(const Config& config) {
  ++epoch_;
  std::vector<std::unique_ptr<Line>> next;
  for (const RouteConfig& route : config.routes) {
    if (route.dns.refresh_ms == 0) continue;
    for (const BackendConfig& backend : route.backends) {
      if (!backend.by_name) continue;
      auto same = [&](const std::unique_ptr<Line>& line) {
        return line && line->route == route.name && line->backend == backend.name;
      };
      if (std::any_of(next.begin(), next.end(), same)) continue;  // one line, many addresses
      Result<HostPort> host_port = split_host_port(backend.name);
      if (!host_port) continue;  // the loader accepted it: cannot happen
      std::unique_ptr<Line> line;
      if (auto old = std::find_if(lines_.begin(), lines_.end(), same); old != lines_.end()) {
        line = std::move(*old);
        // A lookup still running for the old file stays the one in flight.
      } else {
        line = std::make_unique<Line>(*this, ++next_id_);
        line->route = route.name;
        line->backend = backend.name;
        line->host_port = std::move(host_port).value();
      }
      bool interval_changed = line->refresh_ms != route.dns.refresh_ms;
      line->refresh_ms = route.dns.refresh_ms;
      if (!line->scheduled() || interval_changed) {
        control_.timers().schedule(*line, control_.now_ms() + line->refresh_ms);
      }
      next.push_back(std::move(line));
    }
  }
  lines_ = std::move(next);  // lines no longer written go, cancelling their timers
}

void DnsRefresher::stop() noexcept {
  ++epoch_;
  lines_.clear();
}

void DnsRefresher::ask(Line& line) noexcept {
  control_.timers().schedule(line, control_.now_ms() + line.refresh_ms);
  if (line.in_flight) return;  // a slow lookup is never doubled up
  auto answer = std::make_shared<std::optional<Result<std::vector<SocketAddress>>>>();
  uint64_t id = line.id;
  uint64_t epoch = epoch_;
  try {
    resolver_.start(
        [host_port = line.host_port, answer](const NameLookup& lookup) {
          *answer = lookup(host_port, "");
        },
        kLookupTimeoutMs,
        [this, id, epoch, answer](Result<void> finished) {
          // The work's write to `answer` happens before its post, hence before this.
          if (!finished) {
            on_answer(id, epoch, std::move(finished).error());
          } else {
            on_answer(id, epoch, std::move(**answer));
          }
        });
    line.in_flight = true;
  } catch (const std::exception& e) {  // no thread now: try again at the next tick
    log::warn("dns_failed")
        .kv("route", line.route)
        .kv("backend", line.backend)
        .kv("error", std::string("no resolver thread: ") + e.what());
  }
}

void DnsRefresher::on_answer(uint64_t id, uint64_t epoch,
                             Result<std::vector<SocketAddress>> answer) noexcept {
  auto it = std::find_if(lines_.begin(), lines_.end(),
                         [id](const std::unique_ptr<Line>& line) { return line->id == id; });
  if (it == lines_.end()) return;  // no longer written, or stopped
  Line& line = **it;
  line.in_flight = false;
  if (epoch != epoch_) return;  // a reload since resolved the name itself
  answer_(line.route, line.backend, std::move(answer));
}

}  // namespace arus
