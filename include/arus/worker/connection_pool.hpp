// ConnectionPool: a worker's Connection objects, made once and reused, so steady traffic
// allocates nothing. It keeps its high-water mark, as nginx keeps worker_connections.
// Acquire and release are O(1) whatever the number of connections (bench/micro/). Not
// thread-safe: the worker's thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "arus/relay/connection.hpp"

namespace arus {

class ConnectionPool {
 public:
  explicit ConnectionPool(ConnectionHost& host) noexcept : host_(host) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A free connection, or a new one; null when memory is exhausted. Growing also makes
  // room for as many deferred tasks in the host's reactor (the worker defers each
  // connection's recycling), so neither release() nor that deferral allocates.
  Connection* acquire() noexcept {
    if (!free_.empty()) {
      Connection* connection = free_.back();
      free_.pop_back();
      return connection;
    }
    try {
      all_.push_back(std::make_unique<Connection>(host_));
      free_.reserve(all_.capacity());
      host_.reactor().reserve_deferred(all_.capacity());
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    return all_.back().get();
  }

  // Takes back a connection the caller recycled. Never allocates.
  void release(Connection& connection) noexcept { free_.push_back(&connection); }

  // Every connection ever made, free or not (the worker's shutdown finishes them).
  template <typename Fn>
  void for_each(Fn fn) {
    for (auto& connection : all_) fn(*connection);
  }
  void clear() noexcept {
    free_.clear();
    all_.clear();
  }

  size_t size() const noexcept { return all_.size(); }
  size_t free_count() const noexcept { return free_.size(); }

 private:
  ConnectionHost& host_;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> free_;  // capacity kept at all_'s: release() never allocates
};

}  // namespace arus
