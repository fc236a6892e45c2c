// Resolver: runs work that looks names up (a configuration load) on a thread of its
// own, so its owner's thread keeps serving, and bounds how long that may take.
// start() and the destructor belong to one owner thread; completions reach it through
// the `post` it gave (its reactor). Internally locked.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "arus/core/result.hpp"
#include "arus/net/address.hpp"

namespace arus {

class Resolver {
 public:
  // Hands a task to the owner's thread (Reactor::post); called from Resolver threads.
  using Post = std::function<void(std::function<void()>)>;
  // Runs on a job's thread; looks names up only through the NameLookup it is given.
  // What it produces it keeps in state it shares with its Done.
  using Work = std::function<void(const NameLookup& lookup)>;
  // Runs on the owner's thread, exactly once per started job unless the Resolver is
  // destroyed first: success once the work returned, or the timeout error naming the
  // lookup it was waiting for ("proxy.conf:7: [route:web] backend: cannot resolve
  // 'db.internal': no answer within 5000 ms").
  using Done = std::function<void(Result<void> finished)>;

  // `lookup` answers the work's questions on the job's thread (resolve() in service).
  explicit Resolver(Post post, AddressesLookup lookup = resolve_all);
  // Cancels: no Done runs after this returns. A job stuck in a lookup is abandoned to
  // its (detached) thread, which ends when the lookup returns and touches only state
  // it shares; the system resolver gives up on its own (resolv.conf timeout, attempts).
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Starts `work` on a new thread; `done` runs via post when it returns, or with an
  // error once `timeout_ms` passed first (the work's later result is then dropped).
  // Throws std::system_error when no thread can be started; `done` then never runs.
  void start(Work work, uint64_t timeout_ms, Done done);

 private:
  struct Shared;
  void watch_deadlines() noexcept;  // the timekeeper thread's loop

  std::shared_ptr<Shared> shared_;
};

}  // namespace arus
