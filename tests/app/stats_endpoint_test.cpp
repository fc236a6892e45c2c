// append_stats_response: routing, status lines, headers and bodies, without sockets.
#include "arus/app/stats_endpoint.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../support/http_test_client.hpp"

namespace arus {
namespace {

using test::body_of;

struct Answer {
  std::string bytes;  // what goes on the wire: the appended bytes, then the shared body
  bool close = false;
  int snapshots = 0;
  bool body_shared = false;
};

Answer answer(std::string_view request_text, bool draining = false) {
  HttpRequestParser parser;
  HttpParseResult parsed = parser.parse(request_text);
  EXPECT_EQ(parsed.status, HttpParseStatus::kComplete) << request_text;
  Answer a;
  PageBodyFn page_body = [&a](StatsPage page) {
    ++a.snapshots;
    StatsSnapshot s;
    s.generation = 42;
    return std::make_shared<const std::string>(render_page(page, s));
  };
  StatsResponse response = append_stats_response(parsed.request, page_body, a.bytes, draining);
  a.close = response.close;
  if (response.body) {
    a.body_shared = true;
    a.bytes += *response.body;
  }
  return a;
}

TEST(StatsEndpoint, Healthz) {
  Answer a = answer("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(a.bytes,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 3\r\nCache-Control: no-store\r\n\r\nok\n");
  EXPECT_FALSE(a.close);
  EXPECT_EQ(a.snapshots, 0);
}

TEST(StatsEndpoint, HealthzWhileDrainingIs503) {
  Answer a = answer("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", /*draining=*/true);
  EXPECT_EQ(a.bytes,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 9\r\nCache-Control: no-store\r\n\r\ndraining\n");
  EXPECT_FALSE(a.close);
  // The other pages still answer: the stats listener stays open through a drain.
  EXPECT_EQ(answer("GET /stats HTTP/1.1\r\nHost: h\r\n\r\n", true).bytes.rfind(
                "HTTP/1.1 200 OK\r\n", 0),
            0u);
}

TEST(StatsEndpoint, MetricsIsPrometheusText) {
  Answer a = answer("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(a.bytes.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(a.bytes.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  std::string body = body_of(a.bytes);
  EXPECT_NE(body.find("\narus_config_generation 42\n"), std::string::npos);
  EXPECT_NE(a.bytes.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(a.snapshots, 1);
  EXPECT_TRUE(a.body_shared) << "a page body is sent by reference, not copied";
}

TEST(StatsEndpoint, StatsIsJson) {
  Answer a = answer("GET /stats HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_NE(a.bytes.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(body_of(a.bytes).rfind("{\"version\":", 0), 0u);
  EXPECT_NE(body_of(a.bytes).find("\"generation\":42"), std::string::npos);
}

TEST(StatsEndpoint, HeadHasTheGetHeadersAndNoBody) {
  Answer get = answer("GET /stats HTTP/1.1\r\nHost: h\r\n\r\n");
  Answer head = answer("HEAD /stats HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(body_of(head.bytes), "");
  EXPECT_FALSE(head.body_shared);
  EXPECT_EQ(head.bytes, get.bytes.substr(0, get.bytes.find("\r\n\r\n") + 4));
}

TEST(StatsEndpoint, UnknownPathIs404) {
  Answer a = answer("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(a.bytes.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(body_of(a.bytes), "not found\n");
  EXPECT_FALSE(a.close);
  Answer post = answer("POST /nope HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(post.bytes.rfind("HTTP/1.1 404 ", 0), 0u);
}

TEST(StatsEndpoint, OtherMethodOnAKnownPathIs405WithAllow) {
  Answer a = answer("DELETE /metrics HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(a.bytes.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
  EXPECT_NE(a.bytes.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_FALSE(a.close);
  EXPECT_EQ(a.snapshots, 0);
  Answer with_body = answer("POST /metrics HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
  EXPECT_TRUE(with_body.close) << "a body is never read, so the connection cannot go on";
  EXPECT_NE(with_body.bytes.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(StatsEndpoint, ConnectionHeaderFollowsTheRequest) {
  Answer close = answer("GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(close.close);
  EXPECT_NE(close.bytes.find("\r\nConnection: close\r\n"), std::string::npos);
  Answer old = answer("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(old.close);
  EXPECT_EQ(old.bytes.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  Answer old_kept = answer("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_FALSE(old_kept.close);
  EXPECT_NE(old_kept.bytes.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
}

TEST(StatsEndpoint, ErrorResponsesClose) {
  std::string out;
  append_error_response(408, out);
  EXPECT_EQ(out,
            "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 16\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
            "request timeout\n");
  EXPECT_EQ(http_reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(http_reason_phrase(299), "Error");
}

}  // namespace
}  // namespace arus
