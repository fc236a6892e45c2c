// Server: listener binding, worker start-up, signals, drain.
#include "arus/app/server.hpp"

#include <sched.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string>

#include "arus/app/listen_guard.hpp"
#include "arus/app/options.hpp"
#include "arus/app/preflight.hpp"
#include "arus/config/config_error.hpp"
#include "arus/core/log.hpp"
#include "arus/core/thread_priority.hpp"
#include "arus/net/socket.hpp"
#include "arus/runtime/health_targets.hpp"

namespace arus {
namespace {

constexpr int kListenBacklog = 4096;

std::string signal_name(int signal_number) {
  const char* abbrev = sigabbrev_np(signal_number);
  return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(signal_number);
}

}  // namespace

class Server::SignalEvents final : public EventHandler {
 public:
  explicit SignalEvents(Server& server) : server_(server) {}
  void on_events(uint32_t) noexcept override {
    signalfd_siginfo info;
    while (::read(server_.signal_fd_.get(), &info, sizeof info) == sizeof info) {
      server_.on_signal(static_cast<int>(info.ssi_signo));
    }
  }

 private:
  Server& server_;
};

class Server::GraceTimer final : public Timer {
 public:
  explicit GraceTimer(Server& server) : server_(server) {}
  void on_timer() noexcept override { server_.on_grace_expired(); }

 private:
  Server& server_;
};

Result<UniqueFd> Server::listen_for(const Config& config, const RouteConfig& route) {
  auto fd = listen_tcp(route.listen, /*reuse_port=*/true, kListenBacklog);
  if (!fd) return route_key_error(config, route, "listen", fd.error().message);
  return fd;
}

Result<UniqueFd> Server::stats_listener_for(const Config& config) {
  auto fd = StatsServer::open_listener(config.global.stats_listen);
  if (!fd) return global_key_error(config, "stats_listen", fd.error().message);
  return fd;
}

Result<UniqueFd> Server::admin_listener_for(const Config& config, uid_t owner_uid,
                                            gid_t owner_gid) {
  auto fd = AdminServer::open_listener(config.global.admin, owner_uid, owner_gid);
  if (!fd) return global_key_error(config, "admin_listen", fd.error().message);
  return fd;
}

sigset_t server_signals() noexcept {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

unsigned available_cpus() noexcept {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

Result<std::unique_ptr<Server>> Server::create(ConfigPtr config, unsigned worker_count,
                                               std::optional<log::Level> log_level_override) {
  // No filter file is opened before it and its folder are known to be safe for the user
  // the proxy will run as.
  auto identity = configured_identity(*config);
  if (!identity) return std::move(identity).error();
  if (auto safe = check_filter_sources(*config, identity->uid); !safe) {
    return std::move(safe).error();
  }

  // What may need root comes first: every listener (one per route per worker, so a port
  // in use changes nothing), the stats endpoint's, and the watch on the config folder.
  // Each new address is probed before: one another socket holds is refused, not shared.
  auto unheld = refuse_held_listen_addresses(*config, nullptr);
  if (!unheld) return std::move(unheld).error();
  std::vector<std::vector<UniqueFd>> listeners(worker_count);
  for (const RouteConfig& route : config->routes) {
    for (unsigned w = 0; w < worker_count; ++w) {
      auto fd = listen_for(*config, route);
      if (!fd) return std::move(fd).error();
      listeners[w].push_back(std::move(*fd));
    }
  }
  UniqueFd stats_fd;
  if (!config->global.stats_listen.empty()) {
    auto fd = stats_listener_for(*config);
    if (!fd) return std::move(fd).error();
    stats_fd = std::move(*fd);
  }
  // Made before the privilege drop (a path only root may write to, such as /run), then
  // given to the run user: the socket belongs to the user the proxy runs as.
  UniqueFd admin_fd;
  if (config->global.admin.enabled()) {
    auto fd = admin_listener_for(*config, identity->uid, identity->gid);
    if (!fd) return std::move(fd).error();
    admin_fd = std::move(*fd);
  }
  auto control = Reactor::create();
  if (!control) return std::move(control).error();
  auto stats = std::make_unique<StatsTable>(worker_count, std::string(kVersion));
  std::unique_ptr<Server> server(new Server(std::move(stats), config, std::move(*control)));
  server->log_level_override_ = log_level_override;
  Server* raw = server.get();
  auto watcher = ConfigWatcher::create(*server->control_, config->path,
                                       [raw](ConfigWatcher::Change change) {
                                         // watch_config = off: SIGHUP and POST /reload only.
                                         if (!raw->snapshot_->config->global.admin.watch_config) {
                                           log::debug("reload_not_watched")
                                               .kv("reason", "watch_config is off");
                                           return;
                                         }
                                         raw->reload(change.filters ? ReloadTrigger::kFilterFile
                                                                    : ReloadTrigger::kConfigFile);
                                       });
  if (!watcher) return std::move(watcher).error();
  server->watcher_ = std::move(*watcher);

  // Become [global] user before any filter code runs (create() included) and before any
  // worker thread starts.
  if (auto dropped = become_run_user(*config); !dropped) return std::move(dropped).error();

  auto built = build_snapshot(config);
  if (!built) return std::move(built).error();
  attach_stats(**built, *server->stats_, server->stats_->apply(*config));
  server->snapshot_ = std::move(*built);
  const SnapshotPtr& snapshot = server->snapshot_;
  server->stats_->publish_generation(snapshot->generation);
  server->adopted_generation_.assign(worker_count, snapshot->generation);
  server->update_health_checks();

  if (stats_fd) {
    StatsTable* table = server->stats_.get();
    auto stats_server = StatsServer::create(*server->control_, std::move(stats_fd),
                                            [table] { return table->snapshot(); });
    if (!stats_server) return std::move(stats_server).error();
    server->stats_server_ = std::move(*stats_server);
  }
  if (admin_fd) {
    if (auto started = server->start_admin(std::move(admin_fd), *config); !started) {
      return std::move(started).error();
    }
  }
  for (unsigned w = 0; w < worker_count; ++w) {
    auto worker = Worker::create(
        w, snapshot, std::move(listeners[w]), server->global_admission_,
        [raw] { raw->control_->post([raw] { raw->on_worker_exit(); }); },
        [raw] { raw->control_->post([raw] { raw->return_freed_memory(); }); });
    if (!worker) return std::move(worker).error();
    server->workers_.push_back(std::move(*worker));
  }
  server->watcher_->watch_filters(server->filter_paths());
  server->dns_refresher_->follow(*config);

  sigset_t signals = server_signals();
  server->signal_fd_.reset(signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!server->signal_fd_) return posix_error("signalfd", errno);
  server->signal_events_ = std::make_unique<SignalEvents>(*server);
  if (int error = server->control_->add(server->signal_fd_.get(), EPOLLIN | EPOLLET,
                                        server->signal_events_.get());
      error != 0) {
    return posix_error("epoll_ctl(signalfd)", error);
  }
  return server;
}

Server::Server(std::unique_ptr<StatsTable> stats, const ConfigPtr& config,
               std::unique_ptr<Reactor> control)
    : stats_(std::move(stats)),
      control_(std::move(control)),
      global_admission_(config->global.max_connections),
      grace_timer_(std::make_unique<GraceTimer>(*this)) {
  Reactor* control_reactor = control_.get();
  resolver_ = std::make_unique<Resolver>(
      [control_reactor](std::function<void()> task) { control_reactor->post(std::move(task)); });
  dns_refresher_ = std::make_unique<DnsRefresher>(
      *control_, *resolver_,
      [this](const std::string& route, const std::string& backend,
             Result<std::vector<SocketAddress>> answer) {
        on_dns_answer(route, backend, std::move(answer));
      });
}

Server::~Server() {
  resolver_.reset();  // first: a reload still waiting for names never calls back
  dns_refresher_.reset();  // its timers are on control_
  checker_.reset();   // joins the checker thread
  watcher_.reset();
  stats_server_.reset();  // on the control thread, outside any dispatch
  admin_server_.reset();
  if (!admin_socket_path_.empty()) ::unlink(admin_socket_path_.c_str());
  for (auto& worker : workers_) worker->stop_now();
  workers_.clear();  // joins each thread
  control_->timers().cancel(*grace_timer_);
}

int Server::run() {
  running_ = true;
  if (checker_) checker_->start();
  for (auto& worker : workers_) worker->start();
  const Config& config = *snapshot_->config;
  for (const RouteConfig& route : config.routes) {
    log::info("listening")
        .kv("route", route.name)
        .kv("address", route.listen.to_string())
        .kv("filter", route.filter.empty() ? "-" : route.filter);
  }
  if (stats_server_) {
    log::info("stats_listening").kv("address", config.global.stats_listen.to_string());
  }
  if (admin_server_) log::info("admin_listening").kv("address", config.global.admin.listen_name);
  log::info("started")
      .kv("version", kVersion)
      .kv("workers", static_cast<uint64_t>(workers_.size()))
      .kv("routes", static_cast<uint64_t>(config.routes.size()))
      .kv("config", config.path);
  // This thread builds each reload's generation, and the resolver threads it starts parse
  // the file: ~50 ms of CPU for 5,000 routes. At nice 19 that work waits for the workers
  // instead of delaying their clients when they share a core (the loaded route's p99
  // during reloads 5.2 -> 2.8 ms in the reload-at-scale benchmark); the workers and the
  // health checker were started before, at the process's own priority.
  if (int error = lower_this_thread_priority(); error != 0) {
    log::warn("priority_unchanged").kv("thread", "control").kv("error", strerror(error));
  }
  while (!done_) control_->run_once(-1);
  for (auto& worker : workers_) worker->join();
  if (checker_) checker_->stop();
  log::info("stopped").kv("exit_status", exit_status_);
  return exit_status_;
}

void Server::on_signal(int signal_number) noexcept {
  if (signal_number == SIGHUP) {
    reload(ReloadTrigger::kSignal);
    return;
  }
  if (draining_) {
    log::warn("second_signal").kv("signal", signal_name(signal_number)).kv("action", "exit now")
        .kv("connections", active_connections());
    exit_status_ = 1;
    for (auto& worker : workers_) worker->stop_now();
    return;
  }
  draining_ = true;
  // First, so a probe in front sees it before the listeners close.
  if (stats_server_) stats_server_->set_draining();
  dns_refresher_->stop();
  uint64_t grace_ms = snapshot_->config->global.grace_period_ms;
  log::info("draining")
      .kv("signal", signal_name(signal_number))
      .kv("connections", active_connections())
      .kv("grace_period_ms", grace_ms);
  for (auto& worker : workers_) worker->begin_drain();
  control_->timers().schedule(*grace_timer_, control_->now_ms() + grace_ms);
}

void Server::on_grace_expired() noexcept {
  if (workers_exited_ == workers_.size()) return;
  log::warn("grace_period_expired").kv("connections", active_connections());
  exit_status_ = 1;
  for (auto& worker : workers_) worker->stop_now();
}

void Server::on_worker_exit() noexcept {
  if (++workers_exited_ == workers_.size()) done_ = true;
}

void Server::update_health_checks() noexcept {
  std::vector<HealthTarget> targets = prepare_health_checks(*snapshot_);
  // Made at start-up even with nothing to check, so that its thread starts before the
  // control thread lowers its own priority (run()): probes keep the workers' priority.
  if (!checker_) {
    auto checker = HealthChecker::create();
    if (!checker) {
      // Backends stay as passive marking leaves them; clients still reach the live ones.
      log::error("health_checker_failed").kv("error", checker.error().message);
      return;
    }
    checker_ = std::move(*checker);
    if (running_) checker_->start();
  }
  checker_->update(std::move(targets));
}

uint64_t Server::active_connections() const noexcept {
  uint64_t total = 0;
  for (const auto& worker : workers_) total += worker->active_connections();
  return total;
}

}  // namespace arus
