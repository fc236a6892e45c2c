// Resolver: one detached thread per job (a lookup cannot be interrupted, so a timed-out
// job must not hold up the next one) and one timekeeper thread that fails jobs whose
// bound passed. All state sits in Shared, under its mutex.
#include "arus/net/resolver.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace arus {

struct Resolver::Shared {
  struct Job {
    std::chrono::steady_clock::time_point deadline;
    uint64_t timeout_ms;
    Done done;
    std::string waiting_where;  // while a lookup runs: who asked (a message prefix)
    std::string waiting_name;   // and for which name; empty between lookups
  };

  Shared(Post post_fn, AddressesLookup lookup_fn)
      : post(std::move(post_fn)), lookup(std::move(lookup_fn)) {}

  const Post post;
  const AddressesLookup lookup;
  std::mutex mutex;
  std::condition_variable changed;  // a job started, or stopping
  // Guarded by mutex. A job leaves `jobs` exactly once: finished, timed out or
  // cancelled; whoever removes it owns its Done. Posting happens under the mutex so
  // that the destructor, once it set `stopping`, knows no post follows.
  std::map<uint64_t, Job> jobs;
  uint64_t next_id = 0;
  bool stopping = false;
  std::thread timekeeper;  // joined by ~Resolver
};

Resolver::Resolver(Post post, AddressesLookup lookup)
    : shared_(std::make_shared<Shared>(std::move(post), std::move(lookup))) {
  shared_->timekeeper = std::thread([this] { watch_deadlines(); });
}

Resolver::~Resolver() {
  std::map<uint64_t, Shared::Job> dropped;  // their Done dies here, on the owner's thread
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    dropped.swap(shared_->jobs);
  }
  shared_->changed.notify_all();
  shared_->timekeeper.join();
}

void Resolver::start(Work work, uint64_t timeout_ms, Done done) {
  uint64_t id;
  {
    std::lock_guard lock(shared_->mutex);
    id = ++shared_->next_id;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    shared_->jobs.emplace(id, Shared::Job{deadline, timeout_ms, std::move(done), {}, {}});
  }
  shared_->changed.notify_all();
  std::thread thread;
  try {
    thread = std::thread([shared = shared_, id, work = std::move(work)] {
      NameLookup lookup = [&shared, id](const HostPort& host_port, const std::string& where) {
        {
          std::lock_guard lock(shared->mutex);
          auto job = shared->jobs.find(id);
          if (job != shared->jobs.end()) {
            job->second.waiting_where = where;
            job->second.waiting_name = host_port.host;
          }
        }
        Result<std::vector<SocketAddress>> address = shared->lookup(host_port);
        std::lock_guard lock(shared->mutex);
        auto job = shared->jobs.find(id);
        if (job != shared->jobs.end()) job->second.waiting_name.clear();
        return address;
      };
      work(lookup);
      std::lock_guard lock(shared->mutex);
      auto job = shared->jobs.find(id);
      if (job == shared->jobs.end()) return;  // timed out or cancelled: nobody waits
      shared->post([done = std::move(job->second.done)] { done(Result<void>{}); });
      shared->jobs.erase(job);
    });
  } catch (...) {  // no thread: the job never existed, its Done never runs
    std::lock_guard lock(shared_->mutex);
    shared_->jobs.erase(id);
    throw;
  }
  thread.detach();
}

void Resolver::watch_deadlines() noexcept {
  Shared& shared = *shared_;
  std::unique_lock lock(shared.mutex);
  while (!shared.stopping) {
    if (shared.jobs.empty()) {
      shared.changed.wait(lock);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    auto earliest = now + std::chrono::hours(1);
    for (auto it = shared.jobs.begin(); it != shared.jobs.end();) {
      Shared::Job& job = it->second;
      if (job.deadline > now) {
        earliest = std::min(earliest, job.deadline);
        ++it;
        continue;
      }
      std::string bound = "no answer within " + std::to_string(job.timeout_ms) + " ms";
      std::string message = job.waiting_name.empty() ? "name resolution: " + bound
                                                     : job.waiting_where + "cannot resolve '" +
                                                           job.waiting_name + "': " + bound;
      shared.post(
          [done = std::move(job.done), message = std::move(message)] { done(Error{message}); });
      it = shared.jobs.erase(it);
    }
    shared.changed.wait_until(lock, earliest);
  }
}

}  // namespace arus
