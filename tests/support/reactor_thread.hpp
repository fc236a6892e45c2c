// ReactorThread: runs a Reactor's turns on a thread of its own until stop(), for tests
// of the servers that live on a reactor and are driven by blocking clients.
#pragma once

#include <atomic>
#include <thread>

#include "arus/reactor/reactor.hpp"

namespace arus::test {

class ReactorThread {
 public:
  ReactorThread() = default;
  ReactorThread(const ReactorThread&) = delete;
  ReactorThread& operator=(const ReactorThread&) = delete;
  ~ReactorThread() { stop(); }

  // `reactor` must outlive stop().
  void start(Reactor& reactor) {
    reactor_ = &reactor;
    thread_ = std::thread([this] {
      while (!stop_.load()) reactor_->run_once(100);
    });
  }

  // Wakes the reactor and joins its thread (a no-op when not running): from then on the
  // calling thread owns the reactor and what lives on it.
  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    reactor_->post([] {});
    thread_.join();
  }

 private:
  Reactor* reactor_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace arus::test
