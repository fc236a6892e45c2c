// HealthChecker: one non-blocking check per backend per interval on the checker's own
// reactor: connect, send, read until the reply decides, always within the timeout and
// always closing the socket. Checker thread only, except update() and stop().
#include "arus/health/health_checker.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>

#include "arus/core/log.hpp"
#include "arus/health/check_state.hpp"
#include "arus/health/reply_matcher.hpp"
#include "arus/net/proxy_header.hpp"
#include "arus/net/socket.hpp"

namespace arus {
namespace {

constexpr size_t kReadChunk = 512;  // a reply decides within its first bytes
constexpr uint64_t kPhaseSlots = 100;

uint64_t phase_key_of(const HealthTarget& target) {
  return std::hash<std::string>{}(target.route + '\n' + target.backend + '\n' +
                                  target.address.to_string());
}

std::string check_payload(const HealthTarget& target) {
  switch (target.check.kind) {
    case HealthCheckKind::kSendExpect:
      return target.check.send;
    case HealthCheckKind::kRedis:
      return "PING\r\n";
    case HealthCheckKind::kHttp:
      return "GET " + target.check.path + " HTTP/1.1\r\nHost: " + target.backend +
             "\r\nUser-Agent: arus-proxy-health-check\r\nConnection: close\r\n\r\n";
    case HealthCheckKind::kOff:
    case HealthCheckKind::kConnect:
      break;
  }
  return {};
}

}  // namespace

std::string check_request(const HealthTarget& target) {
  std::string payload = check_payload(target);
  // A `connect` check sends nothing, so it needs no header either: it passes on the
  // connect and closes.
  if (payload.empty() || target.send_proxy == SendProxy::kOff) return payload;
  ProxyHeaderBytes header = build_proxy_local_header(
      target.send_proxy == SendProxy::kV1 ? ProxyVersion::kV1 : ProxyVersion::kV2);
  return std::string(reinterpret_cast<const char*>(header.data), header.size) + payload;
}

uint64_t next_check_ms(uint64_t started_ms, uint64_t interval_ms, uint64_t phase_key) noexcept {
  // Phases on a grid of at most kPhaseSlots per interval: the checks of one slot start
  // on one wake-up of the thread, and their replies tend to share wake-ups too, instead
  // of a wake-up of its own for every check (docs/performance.md, "Active health
  // checks": 0.42 epoll_wait per check instead of 0.69 with 1,000 backends a second).
  const uint64_t slots = std::min(interval_ms, kPhaseSlots);
  const uint64_t phase = phase_key % slots * interval_ms / slots;
  const uint64_t earliest = started_ms + interval_ms / 2;
  // The first moment at or after `earliest` whose offset in the interval is `phase`.
  const uint64_t offset = earliest % interval_ms;
  return earliest + (phase + interval_ms - offset) % interval_ms;
}

// One backend's checks: its schedule, its rise/fall counts and the check in flight.
class HealthChecker::Check final : public EventHandler {
 public:
  Check(Reactor& reactor, HealthTarget target)
      : reactor_(reactor),
        target_(std::move(target)),
        state_(target_.check.rise, target_.check.fall),
        phase_key_(phase_key_of(target_)),
        request_(check_request(target_)),
        fresh_matcher_(ReplyMatcher::for_check(target_.check)) {}
  ~Check() override { abort(); }

  // Checks at once: a backend at start or one a reload adds.
  void schedule_now() { reactor_.timers().schedule(next_, reactor_.now_ms()); }

  // New settings from a reload; counts and schedule stay (not later than one new interval).
  void reconfigure(HealthTarget target) {
    target_ = std::move(target);
    state_.set_thresholds(target_.check.rise, target_.check.fall);
    phase_key_ = phase_key_of(target_);
    // Used from the next check on; one in flight finishes with what it started with.
    next_request_ = check_request(target_);
    fresh_matcher_ = ReplyMatcher::for_check(target_.check);
    uint64_t latest = reactor_.now_ms() + target_.check.interval_ms;
    if (next_.scheduled() && next_.expiry_ms() > latest) reactor_.timers().schedule(next_, latest);
  }

  // Stops everything: no timer left, the socket closed.
  void abort() noexcept {
    reactor_.timers().cancel(next_);
    reactor_.timers().cancel(deadline_);
    fd_.reset();  // closing also unregisters it from epoll
  }

  void on_events(uint32_t events) noexcept override {
    if (!fd_) return;  // a stale event from this batch, for a check already decided
    if (!connected_) {
      if (events & (EPOLLERR | EPOLLHUP)) {
        return fail_errno("connect", socket_error(fd_.get()));
      }
      if (!(events & EPOLLOUT)) return;
      connected_ = true;
      if (!matcher_.needs_reply()) return finish(true, "");
    }
    if (sent_ < request_.size() && !send_request()) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_reply();
  }

 private:
  class NextTimer final : public Timer {
   public:
    explicit NextTimer(Check& check) : check_(check) {}
    void on_timer() noexcept override { check_.begin(); }

   private:
    Check& check_;
  };
  class DeadlineTimer final : public Timer {
   public:
    explicit DeadlineTimer(Check& check) : check_(check) {}
    void on_timer() noexcept override {
      check_.finish(false, check_.connected_ ? "timed out waiting for the reply"
                                            : "timed out connecting");
    }

   private:
    Check& check_;
  };

  void begin() noexcept {
    started_ms_ = reactor_.now_ms();
    connected_ = false;
    sent_ = 0;
    if (next_request_) {
      request_ = std::move(*next_request_);
      next_request_.reset();
    }
    try {
      matcher_ = fresh_matcher_;  // short expectations fit std::string's inline buffer
    } catch (const std::bad_alloc&) {
      return finish(false, "out of memory");
    }
    ConnectAttempt attempt = connect_tcp_probe(target_.address);
    if (!attempt.fd) return fail_errno("connect", attempt.error);
    fd_ = std::move(attempt.fd);
    if (int error = reactor_.add(fd_.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, this);
        error != 0) {
      return fail_errno("epoll_ctl", error);
    }
    reactor_.timers().schedule(deadline_, started_ms_ + target_.check.timeout_ms);
  }

  // False when the check ended (failed) or the socket is full for now.
  bool send_request() noexcept {
    while (sent_ < request_.size()) {
      ssize_t n = ::send(fd_.get(), request_.data() + sent_, request_.size() - sent_,
                         MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return false;  // the next EPOLLOUT edge goes on
      } else {
        fail_errno("send", errno);
        return false;
      }
    }
    return true;
  }

  void read_reply() noexcept {
    char buffer[kReadChunk];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
      ReplyMatcher::Outcome outcome;
      if (n > 0) {
        outcome = matcher_.feed(std::string_view(buffer, static_cast<size_t>(n)));
      } else if (n == 0) {
        outcome = matcher_.on_eof();
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        return;
      } else {
        return fail_errno("read", errno);
      }
      if (outcome == ReplyMatcher::Outcome::kPass) return finish(true, "");
      if (outcome == ReplyMatcher::Outcome::kFail) return finish(false, matcher_.failure());
    }
  }

  void fail_errno(const char* what, int error) noexcept {
    char reason[BackendHealth::kMaxErrorBytes + 1];
    snprintf(reason, sizeof reason, "%s: %s", what, strerror(error));
    finish(false, reason);
  }

  // The one end of every check: socket closed, result counted, rise/fall applied, the
  // next check scheduled.
  void finish(bool ok, std::string_view error) noexcept {
    reactor_.timers().cancel(deadline_);
    // A plain close (FIN), not a reset: a server logs a reset as an error (PostgreSQL:
    // "could not receive data from client") but says nothing of a client that just
    // leaves. The TIME_WAIT this leaves here is one per backend per interval, each with
    // its own address pair, so it never runs short of ports.
    fd_.reset();
    BackendHealth& health = *target_.health;
    char reason[BackendHealth::kMaxErrorBytes + 1];
    snprintf(reason, sizeof reason, "%.*s", static_cast<int>(error.size()), error.data());
    health.count_check(ok, ok ? nullptr : reason);
    switch (state_.on_check(ok, health.marked_up())) {
      case CheckState::Verdict::kMarkDown:
        if (health.mark_down_by_check(reactor_.now_ms())) {
          log::warn("backend_down")
              .kv("route", target_.route)
              .kv("backend", target_.backend)
              .kv("reason", std::string_view(reason));
        }
        break;
      case CheckState::Verdict::kMarkUp:
        if (health.mark_up_by_check()) {
          log::info("backend_up").kv("route", target_.route).kv("backend", target_.backend);
        }
        break;
      case CheckState::Verdict::kNone:
        break;
    }
    uint64_t next = next_check_ms(started_ms_, target_.check.interval_ms, phase_key_);
    reactor_.timers().schedule(next_, next);
  }

  Reactor& reactor_;
  HealthTarget target_;
  CheckState state_;
  uint64_t phase_key_;
  NextTimer next_{*this};
  DeadlineTimer deadline_{*this};
  // Made once per configuration, not per check: the bytes to send and a matcher that
  // has seen nothing (next_request_: a reload's, taken when the next check begins).
  std::string request_;
  std::optional<std::string> next_request_;
  ReplyMatcher fresh_matcher_;
  // The check in flight (fd_ valid):
  UniqueFd fd_;
  uint64_t started_ms_ = 0;
  bool connected_ = false;
  ReplyMatcher matcher_ = fresh_matcher_;
  size_t sent_ = 0;
};

Result<std::unique_ptr<HealthChecker>> HealthChecker::create() {
  auto reactor = Reactor::create();
  if (!reactor) return std::move(reactor).error();
  return std::unique_ptr<HealthChecker>(new HealthChecker(std::move(*reactor)));
}

HealthChecker::HealthChecker(std::unique_ptr<Reactor> reactor) : reactor_(std::move(reactor)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  thread_ = std::thread([this] {
    while (!stopping_) reactor_->run_once(-1);
  });
  // Named so an operator (top -H, /proc/PID/task/*/comm) can tell its CPU apart.
  pthread_setname_np(thread_.native_handle(), "arus-health");
}

void HealthChecker::update(std::vector<HealthTarget> targets) {
  reactor_->post([this, targets = std::move(targets)]() mutable { apply(std::move(targets)); });
}

void HealthChecker::stop() {
  if (!thread_.joinable()) {
    checks_.clear();  // never started: nothing runs them
    return;
  }
  reactor_->post([this] {
    stopping_ = true;
    for (auto& [health, check] : checks_) check->abort();
  });
  thread_.join();
  checks_.clear();  // after the thread: sockets are closed, timers cancelled already
}

void HealthChecker::apply(std::vector<HealthTarget> targets) {
  if (stopping_) return;
  std::unordered_map<const BackendHealth*, std::unique_ptr<Check>> next;
  next.reserve(targets.size());
  for (HealthTarget& target : targets) {
    const BackendHealth* key = target.health.get();
    if (auto kept = checks_.find(key); kept != checks_.end()) {
      kept->second->reconfigure(std::move(target));
      next.emplace(key, std::move(kept->second));
      checks_.erase(kept);
    } else if (next.count(key) == 0) {
      auto check = std::make_unique<Check>(*reactor_, std::move(target));
      check->schedule_now();
      next.emplace(key, std::move(check));
    }
  }
  // What is left is no longer configured. An event of this batch may still point at a
  // check: stop it now, free it at the end of the turn.
  for (auto& [health, check] : checks_) {
    check->abort();
    std::shared_ptr<Check> dying(std::move(check));
    reactor_->defer([dying] {});
  }
  checks_ = std::move(next);
}

}  // namespace arus
