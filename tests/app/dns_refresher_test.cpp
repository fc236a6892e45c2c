// DnsRefresher: a named backend line is looked up every dns_refresh_ms on a Resolver
// thread, never twice at once, and an answer that predates a reload is dropped.
#include "arus/app/dns_refresher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../support/route_config.hpp"

namespace arus {
namespace {

// A stand-in resolver: counts lookups; while `held`, lookups wait until released.
struct FakeDns {
  std::mutex mutex;
  std::condition_variable released;
  bool held = false;
  int lookups = 0;
  std::vector<std::string> answer = {"127.0.0.2"};

  Result<std::vector<SocketAddress>> lookup(const HostPort& host_port) {
    std::unique_lock lock(mutex);
    ++lookups;
    released.wait(lock, [this] { return !held; });
    std::vector<SocketAddress> out;
    for (const std::string& ip : answer)
      out.push_back(resolve(HostPort{ip, host_port.port}).value());
    return out;
  }
  void hold(bool on) {
    {
      std::lock_guard lock(mutex);
      held = on;
    }
    released.notify_all();
  }
  int count() {
    std::lock_guard lock(mutex);
    return lookups;
  }
};

Config named_config(uint64_t refresh_ms, const std::string& route = "db") {
  Config config;
  RouteConfig r;
  r.name = route;
  r.dns.refresh_ms = refresh_ms;
  for (const char* ip : {"127.0.0.2", "127.0.0.3"}) {  // one line, two addresses
    r.backends.push_back(test::backend_at("db.test:5432", ip, 5432, /*by_name=*/true));
  }
  r.backends.push_back(test::backend_at("127.0.0.9:5432", "127.0.0.9", 5432));
  config.routes.push_back(r);
  return config;
}

struct Fixture {
  Fixture() : reactor(Reactor::create().value()) {
    Reactor* r = reactor.get();
    resolver = std::make_unique<Resolver>(
        [r](std::function<void()> task) { r->post(std::move(task)); },
        // A lookup thread may outlive the fixture: it holds the fake.
        [fake = dns](const HostPort& host_port) { return fake->lookup(host_port); });
    refresher = std::make_unique<DnsRefresher>(
        *reactor, *resolver,
        [this](const std::string& route, const std::string& backend,
               Result<std::vector<SocketAddress>> answer) {
          lookups_at_answer.push_back(dns->count());
          answers.push_back(route + " " + backend + " " +
                            (answer ? answer->front().to_string() : answer.error().message));
        });
  }
  ~Fixture() {
    dns->hold(false);
    resolver.reset();
    refresher.reset();
  }
  // Turns the reactor until `done` or 5 s pass.
  template <class Pred>
  bool run_until(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      reactor->run_once(10);
    }
    return true;
  }

  std::shared_ptr<FakeDns> dns = std::make_shared<FakeDns>();
  std::unique_ptr<Reactor> reactor;
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<DnsRefresher> refresher;
  std::vector<std::string> answers;
  std::vector<int> lookups_at_answer;  // how many lookups had started when each answered
};

TEST(DnsRefresher, LooksEachNamedLineUpOnceEveryInterval) {
  Fixture f;
  f.refresher->follow(named_config(100));
  ASSERT_TRUE(f.run_until([&] { return f.answers.size() >= 3; }));
  // One line (two addresses) is one lookup; the literal line none.
  EXPECT_EQ(f.answers[0], "db db.test:5432 127.0.0.2:5432");
  EXPECT_GE(f.dns->count(), 3);
}

TEST(DnsRefresher, ZeroMeansNoRefresh) {
  Fixture f;
  f.refresher->follow(named_config(0));
  for (int i = 0; i < 30; ++i) f.reactor->run_once(10);
  EXPECT_EQ(f.dns->count(), 0);
  EXPECT_TRUE(f.answers.empty());
}

TEST(DnsRefresher, ASlowLookupIsNeverDoubledAndAReloadDropsItsAnswer) {
  Fixture f;
  f.dns->hold(true);
  f.refresher->follow(named_config(100));
  ASSERT_TRUE(f.run_until([&] { return f.dns->count() == 1; }));
  // Several intervals pass while the lookup hangs: still one lookup.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  while (std::chrono::steady_clock::now() < until) f.reactor->run_once(10);
  EXPECT_EQ(f.dns->count(), 1);
  // A reload follows the file again: the answer of the lookup started before is stale.
  f.refresher->follow(named_config(100));
  f.dns->hold(false);
  ASSERT_TRUE(f.run_until([&] { return !f.answers.empty(); }));
  // Delivered, the stale answer would have come while only one lookup had started (the
  // next starts only once the first has answered).
  EXPECT_GE(f.lookups_at_answer.front(), 2) << "the answer from before the reload was used";
}

TEST(DnsRefresher, StopEndsTheTimers) {
  Fixture f;
  f.refresher->follow(named_config(100));
  f.refresher->stop();
  for (int i = 0; i < 30; ++i) f.reactor->run_once(10);
  EXPECT_EQ(f.dns->count(), 0);
}

}  // namespace
}  // namespace arus
