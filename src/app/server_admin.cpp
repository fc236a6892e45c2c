// Server's side of the admin API: reload and its dry run, backend admin state, open
// connections. Control thread only; loads run on resolver_'s threads, connection lists
// on each worker's.
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "arus/app/preflight.hpp"
#include "arus/app/server.hpp"
#include "arus/config/ini_loader.hpp"
#include "arus/core/log.hpp"
#include "arus/stats/text_escape.hpp"

namespace arus {
namespace {

// A dry run waits for its names as a reload does.
constexpr uint64_t kDryRunLookupTimeoutMs = 5000;

}  // namespace

Result<void> Server::start_admin(UniqueFd listener, const Config& config) {
  auto server = AdminServer::create(*control_, std::move(listener),
                                    [this](AdminCommand command, AdminDone done) {
                                      run_admin(std::move(command), std::move(done));
                                    });
  if (!server) return std::move(server).error();
  admin_server_ = std::move(*server);
  admin_socket_path_ = config.global.admin.unix_path;
  return {};
}

LiveConnections Server::live_connections() const {
  return stats_->active_connections();
}

void Server::run_admin(AdminCommand command, AdminDone done) {
  switch (command.kind) {
    case AdminCommand::Kind::kReload:
      if (command.dry_run) return admin_dry_run(std::move(command), std::move(done));
      return reload(ReloadTrigger::kAdmin, std::move(done));
    case AdminCommand::Kind::kBackend:
      return admin_backend(command, done);
    case AdminCommand::Kind::kConnections:
    case AdminCommand::Kind::kCloseConnection:
      return admin_connections(command, std::move(done));
  }
}

// Validates as a reload would (file or body, names, filter sources, every filter
// loaded) and answers the plan; nothing running changes.
void Server::admin_dry_run(AdminCommand command, AdminDone done) {
  auto loaded = std::make_shared<std::optional<Result<Config>>>();
  auto text = std::make_shared<std::string>(std::move(command.text));
  const bool has_text = command.has_text;
  try {
    resolver_->start(
        [running = snapshot_->config, loaded, text, has_text](const NameLookup& lookup) {
          // Body text: relative paths resolve as for the file it stands in for. Sections
          // written as the running ones are taken over, as a reload would.
          const std::string& path = running->path;
          loaded->emplace(has_text ? parse_config(*text, path, lookup, running.get())
                                   : load_config_file(path, lookup, running.get()));
        },
        kDryRunLookupTimeoutMs,
        [this, loaded, done](Result<void> finished) {
          Result<Config> config = !finished ? Result<Config>(std::move(finished).error())
                                            : std::move(**loaded);
          if (config) {
            if (auto safe = check_filter_sources(*config, geteuid()); !safe) {
              config = std::move(safe).error();
            }
          }
          if (!config) return done(422, admin_error_json(config.error().message));
          ConfigPtr next = std::make_shared<const Config>(std::move(*config));
          // Loads every filter as the reload would; nothing is shared with the running
          // snapshot, so nothing it holds changes.
          if (auto built = build_snapshot(next, nullptr); !built) {
            return done(422, admin_error_json(built.error().message));
          }
          ReloadPlan plan = plan_reload(*snapshot_->config, *next, live_connections());
          done(200, "{\"result\": \"ok\", \"dry_run\": true, \"generation\": " +
                        std::to_string(snapshot_->generation) +
                        ", \"plan\": " + render_plan_json(plan) + "}");
        });
  } catch (const std::exception& e) {
    done(503, admin_error_json(std::string("dry run: ") + e.what()));
  }
}

void Server::admin_backend(const AdminCommand& command, const AdminDone& done) {
  for (const auto& route : snapshot_->routes) {
    if (route->config.name != command.route) continue;
    // B as written: a line with a DNS name is every address it resolved to.
    std::string_view state;
    uint32_t weight = 0;
    const char* action = "";
    bool found = false;
    for (size_t i = 0; i < route->backend_count; ++i) {
      if (route->config.backends[i].name != command.backend) continue;
      found = true;
      BackendAdmin& admin = route->backends[i].health->admin;
      switch (command.action) {
        case AdminCommand::BackendAction::kDrain:
          admin.set_state(AdminState::kDrain), action = "drain";
          break;
        case AdminCommand::BackendAction::kDisable:
          admin.set_state(AdminState::kDisabled), action = "disable";
          break;
        case AdminCommand::BackendAction::kEnable:
          admin.reset(), action = "enable";
          break;
        case AdminCommand::BackendAction::kWeight:
          admin.set_weight(command.weight), action = "weight";
          break;
      }
      state = admin_state_name(admin.state());
      weight = admin.weight_for(route->config.backends[i].weight);
    }
    if (found) {
      log::info("backend_admin")
          .kv("route", command.route)
          .kv("backend", command.backend)
          .kv("action", action)
          .kv("admin_state", state)
          .kv("weight", static_cast<uint64_t>(weight));
      std::string json = "{\"result\": \"ok\", \"route\": ";
      append_json_string(json, command.route);
      json += ", \"backend\": ";
      append_json_string(json, command.backend);
      json += ", \"admin_state\": \"" + std::string(state) +
              "\", \"weight\": " + std::to_string(weight) + "}";
      return done(200, std::move(json));
    }
    return done(404, admin_error_json("no backend '" + command.backend + "' in route '" +
                                      command.route + "'"));
  }
  done(404, admin_error_json("no route '" + command.route + "'"));
}

namespace {

void append_connection(std::string& out, const Worker::ConnectionInfo& c) {
  const ConnectionView& v = c.view;
  out += "{\"id\": " + std::to_string(v.id) + ", \"route\": ";
  append_json_string(out, c.route);
  out += ", \"client\": ";
  append_json_string(out, v.client);
  out += ", \"backend\": ";
  append_json_string(out, v.backend);
  out += ", \"generation\": " + std::to_string(c.generation) + ", \"path\": \"" + v.path +
         "\", \"bytes\": {\"client_to_backend\": " + std::to_string(v.bytes_client_to_backend) +
         ", \"backend_to_client\": " + std::to_string(v.bytes_backend_to_client) +
         "}, \"age_ms\": " + std::to_string(c.now_ms - std::min(c.now_ms, v.started_ms)) +
         ", \"idle_ms\": " + std::to_string(c.now_ms - std::min(c.now_ms, v.last_activity_ms)) +
         "}";
}

}  // namespace

// Each worker lists (or closes) its own connections on its thread; the answers meet
// here on the control thread. A worker whose thread has ended (late in a drain) never
// answers: the admin client's response_timeout_ms then closes the request.
void Server::admin_connections(const AdminCommand& command, AdminDone done) {
  if (command.kind == AdminCommand::Kind::kCloseConnection) {
    const uint64_t id = command.connection_id;
    const unsigned w = Worker::worker_of(id);
    if (w >= workers_.size()) return done(404, admin_error_json("no connection " + std::to_string(id)));
    Reactor* control = control_.get();
    workers_[w]->close_connection(id, [control, id, done](bool found) {
      control->post([id, found, done] {
        if (!found) return done(404, admin_error_json("no connection " + std::to_string(id)));
        done(200, "{\"result\": \"ok\", \"closed\": " + std::to_string(id) + "}");
      });
    });
    return;
  }
  struct Gathering {
    size_t waiting;
    std::vector<Worker::ConnectionInfo> all;
    AdminDone done;
  };
  auto gathering = std::make_shared<Gathering>(Gathering{workers_.size(), {}, std::move(done)});
  Reactor* control = control_.get();
  for (auto& worker : workers_) {
    worker->list_connections([control, gathering](std::vector<Worker::ConnectionInfo> list) {
      control->post([gathering, list = std::move(list)]() mutable {
        for (auto& info : list) gathering->all.push_back(std::move(info));
        if (--gathering->waiting > 0) return;
        std::sort(gathering->all.begin(), gathering->all.end(),
                  [](const auto& a, const auto& b) { return a.view.id < b.view.id; });
        std::string json = "{\"connections\": [";
        for (size_t i = 0; i < gathering->all.size(); ++i) {
          if (i > 0) json += ", ";
          append_connection(json, gathering->all[i]);
        }
        json += "]}";
        gathering->done(200, std::move(json));
      });
    });
  }
}

}  // namespace arus
