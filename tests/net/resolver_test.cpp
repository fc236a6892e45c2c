// Tests for Resolver: work runs on its own thread, its Done comes through the owner's
// post, a lookup that never answers is failed at the bound naming who asked, and a
// destroyed Resolver calls nothing back. A fake lookup stands in for DNS. Bounds leave
// a job's thread time to start (slow under sanitizers) before it is failed.
#include "arus/net/resolver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace arus {
namespace {

using namespace std::chrono_literals;

// The owner's side: tasks posted by Resolver threads, run by the test's thread.
class Mailbox {
 public:
  Resolver::Post post() {
    return [this](std::function<void()> task) {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
      arrived_.notify_all();
    };
  }
  // Runs the next task; false if none came within `limit`.
  bool run_one(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, limit, [this] { return !tasks_.empty(); })) return false;
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    return true;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return tasks_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<std::function<void()>> tasks_;
};

// A lookup that answers only once released: a resolver that does not answer.
class Gate {
 public:
  void release() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// A lookup's answer as text: the addresses, or "error: " and the message.
std::string described(const Result<std::vector<SocketAddress>>& answer) {
  if (!answer.ok()) return "error: " + answer.error().message;
  std::string out;
  for (const SocketAddress& address : answer.value()) {
    out += (out.empty() ? "" : " ") + address.to_string();
  }
  return out;
}

std::vector<SocketAddress> loopback(uint16_t port) {
  return {resolve(HostPort{"127.0.0.1", port}).value()};
}

TEST(Resolver, WorkRunsOffTheCallersThreadAndFinishesThroughPost) {
  Mailbox mailbox;
  std::thread::id lookup_thread;
  Resolver resolver(mailbox.post(),
                    [&](const HostPort& host_port) -> Result<std::vector<SocketAddress>> {
                      lookup_thread = std::this_thread::get_id();
                      EXPECT_EQ(host_port.host, "db.test");
                      return loopback(host_port.port);
                    });
  auto answer = std::make_shared<std::optional<std::string>>();
  std::optional<Result<void>> finished;
  resolver.start(
      [answer](const NameLookup& lookup) {
        answer->emplace(
            described(lookup(HostPort{"db.test", 5432}, "proxy.conf:3: [route:db] backend: ")));
      },
      5000, [&](Result<void> result) { finished = std::move(result); });
  ASSERT_TRUE(mailbox.run_one(5s));
  ASSERT_TRUE(finished.has_value());
  EXPECT_TRUE(finished->ok());
  EXPECT_NE(lookup_thread, std::this_thread::get_id());
  EXPECT_EQ(*answer, "127.0.0.1:5432");
}

TEST(Resolver, LookupErrorsReachTheWorkUnchanged) {
  Mailbox mailbox;
  Resolver resolver(
      mailbox.post(), [](const HostPort& host_port) -> Result<std::vector<SocketAddress>> {
        return Error{"cannot resolve '" + host_port.host + "': Name or service not known"};
      });
  auto answer = std::make_shared<std::optional<std::string>>();
  bool done = false;
  resolver.start(
      [answer](const NameLookup& lookup) {
        answer->emplace(described(lookup(HostPort{"gone.test", 1}, "")));
      },
      5000, [&](Result<void> result) { done = result.ok(); });
  ASSERT_TRUE(mailbox.run_one(5s));
  EXPECT_TRUE(done);
  EXPECT_EQ(*answer, "error: cannot resolve 'gone.test': Name or service not known");
}

TEST(Resolver, ALookupPastTheBoundFailsNamingWhoAskedAndTheName) {
  Mailbox mailbox;
  auto gate = std::make_shared<Gate>();
  auto work_ended = std::make_shared<std::atomic<bool>>(false);
  {
    Resolver resolver(mailbox.post(),
                      [gate](const HostPort& host_port) -> Result<std::vector<SocketAddress>> {
                        gate->wait();
                        return loopback(host_port.port);
                      });
    std::optional<Result<void>> finished;
    resolver.start(
        [work_ended](const NameLookup& lookup) {
          (void)lookup(HostPort{"slow.test", 80}, "proxy.conf:7: [route:web] backend: ");
          work_ended->store(true);
        },
        1000, [&](Result<void> result) { finished = std::move(result); });
    ASSERT_TRUE(mailbox.run_one(5s));
    ASSERT_TRUE(finished.has_value());
    ASSERT_FALSE(finished->ok());
    EXPECT_EQ(finished->error().message,
              "proxy.conf:7: [route:web] backend: cannot resolve 'slow.test': "
              "no answer within 1000 ms");
    // The late answer is dropped: Done ran once.
    gate->release();
    for (int i = 0; i < 500 && !work_ended->load(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(work_ended->load());
    EXPECT_FALSE(mailbox.run_one(100ms));
  }
}

TEST(Resolver, ATimedOutJobDoesNotHoldUpTheNext) {
  Mailbox mailbox;
  auto gate = std::make_shared<Gate>();  // shared: the abandoned lookup outlives the test
  Resolver resolver(mailbox.post(),
                    [gate](const HostPort& host_port) -> Result<std::vector<SocketAddress>> {
                      if (host_port.host == "slow.test") gate->wait();
                      return loopback(host_port.port);
                    });
  std::optional<Result<void>> first, second;
  resolver.start(
      [](const NameLookup& lookup) {
        (void)lookup(HostPort{"slow.test", 1}, "");
      },
      50, [&](Result<void> result) { first = std::move(result); });
  ASSERT_TRUE(mailbox.run_one(5s));
  gate->release();  // only now: the first job has been failed at its bound
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->ok());
  resolver.start(
      [](const NameLookup& lookup) {
        (void)lookup(HostPort{"fast.test", 1}, "");
      },
      5000, [&](Result<void> result) { second = std::move(result); });
  ASSERT_TRUE(mailbox.run_one(5s));
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->ok());
}

TEST(Resolver, DestroyedWhileALookupHangsReturnsAndCallsNothingBack) {
  Mailbox mailbox;
  auto gate = std::make_shared<Gate>();
  auto work_ended = std::make_shared<std::atomic<bool>>(false);
  bool called = false;
  auto resolver = std::make_unique<Resolver>(
      mailbox.post(), [gate](const HostPort& host_port) -> Result<std::vector<SocketAddress>> {
        gate->wait();
        return loopback(host_port.port);
      });
  resolver->start(
      [work_ended](const NameLookup& lookup) {
        (void)lookup(HostPort{"slow.test", 1}, "");
        work_ended->store(true);
      },
      60000, [&](Result<void>) { called = true; });
  resolver.reset();  // must not wait for the lookup
  gate->release();
  for (int i = 0; i < 500 && !work_ended->load(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(work_ended->load());
  EXPECT_FALSE(mailbox.run_one(100ms));
  EXPECT_FALSE(called);
  EXPECT_EQ(mailbox.size(), 0u);
}

}  // namespace
}  // namespace arus
