// parse_admin_request: paths, methods, ids, weights; without sockets.
#include "arus/app/admin_endpoint.hpp"

#include <gtest/gtest.h>

#include <string>

namespace arus {
namespace {

AdminRequest parse(std::string_view method, std::string_view target, std::string_view body = {}) {
  HttpRequest request;
  request.method = method;
  request.target = target;
  request.path = target.substr(0, target.find('?'));
  request.body = body;
  return parse_admin_request(request);
}

TEST(AdminEndpoint, Reload) {
  AdminRequest r = parse("POST", "/reload");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.command.kind, AdminCommand::Kind::kReload);
  EXPECT_FALSE(r.command.dry_run);
  AdminRequest dry = parse("POST", "/reload?dry_run=1", "[global]\n");
  EXPECT_TRUE(dry.command.dry_run);
  EXPECT_TRUE(dry.command.has_text);
  EXPECT_EQ(dry.command.text, "[global]\n");
  EXPECT_EQ(parse("POST", "/reload", "x").status, 400);  // a body only for a dry run
  AdminRequest get = parse("GET", "/reload");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.allow, "POST");
}

TEST(AdminEndpoint, Connections) {
  EXPECT_EQ(parse("GET", "/connections").command.kind, AdminCommand::Kind::kConnections);
  EXPECT_EQ(parse("POST", "/connections").status, 405);
  AdminRequest close = parse("POST", "/connections/281474976710657/close");
  EXPECT_EQ(close.status, 0);
  EXPECT_EQ(close.command.kind, AdminCommand::Kind::kCloseConnection);
  EXPECT_EQ(close.command.connection_id, 281474976710657u);
  EXPECT_EQ(parse("POST", "/connections/12x/close").status, 400);
  EXPECT_EQ(parse("POST", "/connections//close").status, 400);
  EXPECT_EQ(parse("GET", "/connections/1/close").status, 405);
}

TEST(AdminEndpoint, BackendActions) {
  AdminRequest r = parse("POST", "/routes/web/backends/10.0.0.5:5432/drain");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.command.kind, AdminCommand::Kind::kBackend);
  EXPECT_EQ(r.command.route, "web");
  EXPECT_EQ(r.command.backend, "10.0.0.5:5432");
  EXPECT_EQ(r.command.action, AdminCommand::BackendAction::kDrain);
  EXPECT_EQ(parse("POST", "/routes/web/backends/b:1/disable").command.action,
            AdminCommand::BackendAction::kDisable);
  EXPECT_EQ(parse("POST", "/routes/web/backends/b:1/enable").command.action,
            AdminCommand::BackendAction::kEnable);
  EXPECT_EQ(parse("POST", "/routes/w%20x/backends/%5B%3A%3A1%5D:80/drain").command.backend,
            "[::1]:80");
  EXPECT_EQ(parse("POST", "/routes/w%2/backends/b:1/drain").status, 400);
  EXPECT_EQ(parse("POST", "/routes/web/backends/b:1/explode").status, 404);
  EXPECT_EQ(parse("GET", "/routes/web/backends/b:1/drain").status, 405);
}

TEST(AdminEndpoint, Weight) {
  AdminRequest r = parse("POST", "/routes/web/backends/b:1/weight", " { \"weight\" : 256 } ");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.command.weight, 256u);
  for (std::string_view bad : {"", "{}", "{\"weight\": 257}", "{\"weight\": -1}", "weight=3",
                               "{\"weight\": 3", "{\"weight\": 1.5}", "{\"w\": 1}"}) {
    EXPECT_EQ(parse("POST", "/routes/web/backends/b:1/weight", bad).status, 400) << bad;
  }
}

TEST(AdminEndpoint, UnknownPathsAre404) {
  for (std::string_view path : {"/", "/metrics", "/stats", "/healthz", "/reload/x", "/routes/web"}) {
    EXPECT_EQ(parse("GET", path).status, 404) << path;
  }
}

TEST(AdminEndpoint, ErrorJsonEscapes) {
  EXPECT_EQ(admin_error_json("a \"b\""), "{\"result\": \"error\", \"error\": \"a \\\"b\\\"\"}");
}

}  // namespace
}  // namespace arus
