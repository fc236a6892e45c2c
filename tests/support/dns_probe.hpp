// Test helper: whether the resolver fails ".invalid" names at once. Where DNS would time
// out instead, tests that need such a failure skip rather than hang. Thread-safe.
#pragma once

#include <netdb.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>

namespace arus {

inline bool invalid_names_fail_fast() {
  static const bool fast = [] {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    std::thread([done] {
      addrinfo* list = nullptr;
      if (getaddrinfo("arus-probe.invalid", nullptr, nullptr, &list) == 0) freeaddrinfo(list);
      done->set_value();
    }).detach();
    return finished.wait_for(std::chrono::seconds(3)) == std::future_status::ready;
  }();
  return fast;
}

}  // namespace arus
