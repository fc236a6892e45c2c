// FilterSession: one connection's use of a route's filter — open() at the start, close()
// at the end, transform() in between, and the log callback the filter writes through.
// Belongs to the connection's worker thread (filter.h, "Threading").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "arus/core/result.hpp"
#include "arus/filter.h"
#include "arus/plugin/filter_instance.hpp"

namespace arus {

struct FilterConnInfo {
  uint64_t connection_id = 0;  // unique within the process
  std::string route;           // route NAME
  std::string client;          // "IP:PORT"
  std::string backend;         // "IP:PORT"
};

class FilterSession {
 public:
  struct Passkey {
   private:
    Passkey() = default;
    friend class FilterSession;
  };

  // Calls the filter's open(). The session holds the one reference to `instance` this
  // connection needs (taken once, here), so the route state and the code stay alive
  // until the session is destroyed. Fails when open() refuses: "<file>: open failed".
  static Result<std::unique_ptr<FilterSession>> open(FilterInstancePtr instance,
                                                     FilterConnInfo info);

  FilterSession(Passkey, FilterInstancePtr instance, FilterConnInfo info) noexcept;
  ~FilterSession();  // the filter's close(conn_state), if open() succeeded
  // Not movable: the filter may keep a pointer to conn_info_.
  FilterSession(const FilterSession&) = delete;
  FilterSession& operator=(const FilterSession&) = delete;

  // Calls the filter's transform() as it is: no checks. FilterStage validates results.
  int transform(int direction, const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap,
                size_t* in_used, size_t* out_len, uint32_t flags) noexcept {
    return instance_->api().transform(conn_state_, direction, in, in_len, out, out_cap, in_used,
                                      out_len, flags);
  }

  const FilterConnInfo& info() const noexcept { return info_; }
  // The file as configured, e.g. "c_plugins/filter.so", for log lines.
  const std::string& filter_path() const noexcept { return instance_->plugin().display_path(); }

  // Most lines one connection's filter may log; later ones are dropped (one warning says
  // so), so a filter logging per chunk cannot flood stderr.
  static constexpr uint32_t kMaxLogLines = 64;

 private:
  static void host_log(const arus_conn_info* conn, int level, const char* message) noexcept;

  FilterInstancePtr instance_;
  FilterConnInfo info_;
  arus_conn_info conn_info_{};  // points into info_; handed to the filter
  void* conn_state_ = nullptr;
  bool opened_ = false;
  // Atomic only as a guard against a filter that (against the contract) logs from a
  // thread of its own; relaxed, it orders nothing.
  std::atomic<uint32_t> log_lines_{0};
};

}  // namespace arus
