// Server: the running proxy — the workers, their listeners, the stats table, and the
// control reactor on the main thread that serves signals (drain, reload) and the stats
// endpoint.
// run() is called once, from the main thread.
#pragma once

#include <csignal>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arus/app/dns_refresher.hpp"
#include "arus/config/config.hpp"
#include "arus/core/result.hpp"
#include "arus/health/health_checker.hpp"
#include "arus/net/resolver.hpp"
#include "arus/reactor/reactor.hpp"
#include "arus/worker/admission.hpp"
#include "arus/runtime/snapshot_builder.hpp"
#include "arus/reload/config_watcher.hpp"
#include "arus/app/stats_server.hpp"
#include "arus/app/admin_server.hpp"
#include "arus/app/reload_plan.hpp"
#include "arus/stats/stats_table.hpp"
#include "arus/worker/worker.hpp"

namespace arus {

class Server {
 public:
  // Checks the run user and the filter sources (check_filter_sources), binds every
  // route's listeners (one SO_REUSEPORT socket per worker) and the stats endpoint, drops
  // privileges to [global] user, then loads the filters and prepares the workers
  // without starting them. Fails, serving nothing, when a check, a bind (or a listen
  // address another socket holds), the switch or a filter fails; the caller must then exit (privileges may be half dropped).
  // `log_level_override` (-l) wins over the config's log_level, also after reloads.
  static Result<std::unique_ptr<Server>> create(ConfigPtr config, unsigned worker_count,
                                                std::optional<log::Level> log_level_override);
  ~Server();

  // Starts the workers and serves until drained or stopped; returns the exit status:
  // 0 after a complete drain, 1 when the grace period ran out or a second signal came.
  // server_signals() must be blocked in every thread before create().
  int run();

 private:
  class SignalEvents;
  class GraceTimer;
  enum class ReloadTrigger { kSignal, kConfigFile, kFilterFile, kAdmin };
  // The snapshot is set by create(), once privileges are dropped.
  Server(std::unique_ptr<StatsTable> stats, const ConfigPtr& config,
         std::unique_ptr<Reactor> control);
  // A listening socket for `route` (one per worker, SO_REUSEPORT); the error names the
  // configuration file, the `listen` line and the address.
  static Result<UniqueFd> listen_for(const Config& config, const RouteConfig& route);
  // The stats endpoint's listening socket; the error names the `stats_listen` line.
  static Result<UniqueFd> stats_listener_for(const Config& config);
  // The admin listener's socket (owned by `owner` when it is a unix socket); the error
  // names the `admin_listen` line.
  static Result<UniqueFd> admin_listener_for(const Config& config, uid_t owner_uid,
                                             gid_t owner_gid);
  // Serves admin_listen on control_ (server_admin.cpp); false when the server could not
  // be made (logged).
  Result<void> start_admin(UniqueFd listener, const Config& config);
  // Runs one admin API command (server_admin.cpp).
  void run_admin(AdminCommand command, AdminDone done);
  void admin_dry_run(AdminCommand command, AdminDone done);
  void admin_backend(const AdminCommand& command, const AdminDone& done);
  void admin_connections(const AdminCommand& command, AdminDone done);
  // Open client connections per running route, for a reload plan.
  LiveConnections live_connections() const;
  void on_signal(int signal_number) noexcept;
  // Reads the file and looks its names up on resolver_'s thread (at most
  // kReloadLookupTimeoutMs), then finishes in finish_reload() on the control thread; a
  // trigger while one waits is coalesced into one more reload after it.
  // `waiter` (POST /reload) is answered once the reload is served by every worker, or
  // failed.
  void reload(ReloadTrigger trigger, AdminDone waiter = {}) noexcept;
  // `shared_with`: the running configuration `loaded` shares its unchanged routes with.
  void finish_reload(ReloadTrigger trigger, uint64_t started_ms, Result<Config> loaded,
                     const ConfigPtr& shared_with) noexcept;
  // Validate, then swap: everything that can fail happens before anything changes.
  // `plan_wanted`: someone waits for the answer (POST /reload), which carries the plan.
  // `loaded` keeps what it held that the new configuration does not (free_parse).
  Result<void> try_reload(ReloadTrigger trigger, uint64_t started_ms, Result<Config>& loaded,
                          const ConfigPtr& shared_with, bool plan_wanted);
  // Frees what is left of a reload's parse on a thread of its own (a resolver_ job), not
  // on this long-lived one: glibc's per-thread cache would hand the parse arena's chunks
  // to this thread's next allocations, some of which live for good and so pin that
  // arena's pages (config_relocation.hpp). Then returns the freed pages.
  void free_parse(Config parsed) noexcept;
  // Hands freed heap pages back to the system (malloc_trim): after older generations or a
  // parse were freed (also when the last connection of an older generation ends). glibc
  // keeps freed memory in its arenas otherwise, so a reload of thousands of routes would
  // leave the process as large as two generations for good. Control thread only, never
  // a worker: 0.7 ms median, 5 ms at most with 5,000 routes (a heap of ~30 MB).
  void return_freed_memory() noexcept;
  void warn_restart_only_changes(const Config& next) const;
  // A refresh of the backend line written as `backend` in `route` answered (control
  // thread): a failure keeps the last good addresses and warns; a changed set is applied
  // like a small reload (apply_addresses).
  void on_dns_answer(const std::string& route, const std::string& backend,
                     Result<std::vector<SocketAddress>> answer) noexcept;
  // The running configuration with that line's addresses merged with `answer`, published
  // to the workers as a new generation (same file, same filters; connections stay on
  // the generation they started with). Nothing changes when the set is the same.
  Result<void> apply_addresses(const std::string& route, const std::string& backend,
                               const std::vector<SocketAddress>& answer);
  // Hands `snapshot` (generation `pending.generation`) to every worker; announced as a
  // reload (log line, arus_reloads_total, POST /reload answers) only when
  // `pending.reload` is true, once every worker serves it.
  struct PendingReload;
  void publish(const SnapshotPtr& snapshot, PendingReload pending,
               const std::vector<std::shared_ptr<std::vector<UniqueFd>>>& fresh);
  void on_worker_adopted(size_t worker, uint64_t generation) noexcept;
  std::vector<std::string> filter_paths() const;
  void on_grace_expired() noexcept;
  void on_worker_exit() noexcept;
  uint64_t active_connections() const noexcept;
  // Hands the running snapshot's checked backends to checker_, which is made at start-up
  // (made and started here only if that failed, and a later snapshot checks backends).
  void update_health_checks() noexcept;

  std::unique_ptr<StatsTable> stats_;  // outlives everything that counts on it
  SnapshotPtr snapshot_;
  std::unique_ptr<Reactor> control_;
  std::unique_ptr<StatsServer> stats_server_;  // on control_; null without stats_listen
  std::unique_ptr<AdminServer> admin_server_;  // on control_; null without admin_listen
  std::string admin_socket_path_;              // the unix socket we made, removed at exit
  std::unique_ptr<ConfigWatcher> watcher_;     // on control_
  std::unique_ptr<Resolver> resolver_;         // reloads' name lookups; posts to control_
  std::unique_ptr<HealthChecker> checker_;     // made at start-up; null only if that failed
  bool running_ = false;                       // run() has started the threads
  std::unique_ptr<DnsRefresher> dns_refresher_;  // backend names, every dns_refresh_ms
  // A reload waits for resolver_ (loading), and the trigger to reload with once it is
  // done (strongest first: a signal or filter change is never skipped as unchanged).
  // Control thread only.
  bool reload_loading_ = false;
  std::optional<ReloadTrigger> reload_queued_;
  // POST /reload callers: of the reload loading now, and of the one queued after it.
  std::vector<AdminDone> reload_waiters_;
  std::vector<AdminDone> queued_reload_waiters_;
  std::optional<log::Level> log_level_override_;

  // A reload is announced (log line, arus_config_generation, arus_reloads_total) only
  // when every worker serves it, so a client connecting after the announcement always
  // meets the new configuration. Control thread only.
  struct PendingReload {
    uint64_t generation;
    const char* trigger;
    uint64_t started_ms;
    size_t routes;
    bool reload = true;  // false: a DNS refresh, published without counting as a reload
    std::vector<AdminDone> waiters = {};  // POST /reload callers, answered when announced
    std::string plan_json = {};           // their answer's plan
  };
  std::vector<PendingReload> pending_reloads_;  // oldest first
  std::vector<uint64_t> adopted_generation_;    // per worker
  Admission global_admission_;
  std::vector<std::unique_ptr<Worker>> workers_;
  UniqueFd signal_fd_;
  std::unique_ptr<SignalEvents> signal_events_;
  std::unique_ptr<GraceTimer> grace_timer_;
  size_t workers_exited_ = 0;  // control thread only
  bool draining_ = false;
  bool done_ = false;
  int exit_status_ = 0;
};

// The signals the server reads through its signalfd: SIGTERM and SIGINT (drain, then
// stop) and SIGHUP (reload). Every thread must block them before Server::create.
sigset_t server_signals() noexcept;

// The number of CPUs this process may run on (its affinity mask): what workers = 0 means.
unsigned available_cpus() noexcept;

}  // namespace arus
