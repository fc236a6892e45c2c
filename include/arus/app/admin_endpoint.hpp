// What the admin listener (admin_listen) is asked: maps a parsed request to an
// AdminCommand, or to the status refusing it (404 unknown path, 405 wrong method, 400 a
// bad id or weight). No I/O; thread-safe. Paths of SPEC "Admin API and reload plan".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "arus/http/http_request.hpp"

namespace arus {

struct AdminCommand {
  enum class Kind { kReload, kConnections, kCloseConnection, kBackend };
  enum class BackendAction { kDrain, kDisable, kEnable, kWeight };

  Kind kind = Kind::kReload;
  bool dry_run = false;       // kReload: POST /reload?dry_run=1
  bool has_text = false;      // kReload dry run: the body is the configuration text
  std::string text;
  uint64_t connection_id = 0;  // kCloseConnection
  std::string route;           // kBackend: R and B of /routes/R/backends/B/ACTION,
  std::string backend;         // percent-decoded
  BackendAction action = BackendAction::kDrain;
  uint32_t weight = 0;  // kWeight: 0-256
};

struct AdminRequest {
  int status = 0;  // 0: `command` is valid; else the status to refuse with
  std::string error;
  std::string allow;  // 405: the Allow header's value
  AdminCommand command;
};

AdminRequest parse_admin_request(const HttpRequest& request);

// {"weight": N} with N in 0-256 (whitespace allowed). Returns false for anything else.
bool parse_weight_body(std::string_view body, uint32_t& weight);

// {"result": "error", "error": MESSAGE} (the shape of every admin error body).
std::string admin_error_json(std::string_view message);

}  // namespace arus
