// arus-proxy entry point: options, configuration, signals, server, exit status.
// Exit status: 0 success, 1 invalid configuration or failure to start, 2 usage error;
// -t --diff: 0 no change, 3 changes.
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "arus/app/options.hpp"
#include "arus/app/preflight.hpp"
#include "arus/app/reload_plan.hpp"
#include "arus/app/server.hpp"
#include "arus/config/ini_loader.hpp"
#include "arus/core/log.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitChanges = 3;  // -t --diff: the plan changes something

// Blocks the signals the server reads through signalfd, in this thread and so in every
// thread created later, and makes a peer that vanished mid-write an EPIPE, not a death.
void prepare_signals() {
  sigset_t signals = arus::server_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Fixed heap thresholds instead of glibc's sliding ones. A reload parses the file on a
// thread of its own, so on a thread arena whose top glibc never trims once a large free
// has slid the trim threshold up (to 2x the largest mmapped block freed, up to 64 MiB):
// 5,000 routes kept ~8 MiB per such arena for good. 1 MiB of free top at most; blocks
// under 4 MiB (a filter connection's 64/128 KiB buffers) stay on the heap, as the sliding
// threshold would have put them after the first. An operator's glibc.malloc tunables win.
void bound_retained_heap() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;
  mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

}  // namespace

int main(int argc, char** argv) {
  bound_retained_heap();
  auto options = arus::parse_options(argc, argv);
  if (!options) {
    fprintf(stderr, "arus-proxy: %s\n%s", options.error().message.c_str(),
            arus::usage_text().c_str());
    return kExitUsage;
  }
  if (options->help) {
    fputs(arus::usage_text().c_str(), stdout);
    return kExitOk;
  }
  if (options->version) {
    printf("arus-proxy %.*s\n", static_cast<int>(arus::kVersion.size()), arus::kVersion.data());
    return kExitOk;
  }
  if (options->log_level) arus::log::set_level(*options->log_level);

  auto config = arus::load_config_file(options->config_path);
  if (!config) {
    arus::log::error(config.error().message);
    return kExitFailure;
  }
  if (!options->log_level) arus::log::set_level(config->global.log_level);
  unsigned workers = options->workers.value_or(config->global.workers);
  if (workers == 0) workers = arus::available_cpus();

  auto shared_config = std::make_shared<const arus::Config>(std::move(*config));
  if (options->test_only) {
    auto routes = arus::test_configuration(shared_config);
    if (!routes) {
      arus::log::error(routes.error().message);
      return kExitFailure;
    }
    arus::log::info("config_ok")
        .kv("config", options->config_path)
        .kv("routes", static_cast<uint64_t>(*routes));
    if (!options->diff_path) return kExitOk;
    // The plan a running proxy on OLD would answer, without its live connection counts.
    auto old = arus::load_config_file(*options->diff_path);
    if (!old) {
      arus::log::error(old.error().message);
      return kExitFailure;
    }
    arus::ReloadPlan plan = arus::plan_reload(*old, *shared_config, {});
    printf("%s\n", arus::render_plan_json(plan).c_str());
    return plan.changes_anything() ? kExitChanges : kExitOk;
  }

  prepare_signals();
  auto server = arus::Server::create(std::move(shared_config), workers, options->log_level);
  if (!server) {
    arus::log::error(server.error().message);
    return kExitFailure;
  }
  // Until here every line was written at once, so a start-up error is on stderr before
  // the exit status. From here a stderr nobody reads must not stall the workers: lines
  // are queued. Started after the privilege drop in Server::create and after
  // prepare_signals(), so the writer thread is born with both.
  arus::log::start_writer();
  int status = (*server)->run();
  // Join the workers (nothing logs from another thread after this), then let the drain's
  // last lines reach stderr before the exit status does.
  server->reset();
  arus::log::stop_writer();
  return status;
}
