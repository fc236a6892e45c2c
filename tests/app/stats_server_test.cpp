// StatsServer on 127.0.0.1 with a Reactor running in a thread, driven by blocking test
// clients: pages, errors, keep-alive, pipelining, slow and oversize clients, limits,
// room made by closing idle clients, and page bodies shared between clients.
// Every read has a 10 s receive timeout as its deadline; nothing asserts on timing.
#include "arus/app/stats_server.hpp"

#include "../support/http_test_client.hpp"
#include "../support/reactor_thread.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <thread>

namespace arus {
namespace {

using test::body_of;
using test::TestClient;

bool starts_with(const std::string& text, std::string_view prefix) {
  return text.rfind(prefix, 0) == 0;
}

const char* kGetHealth = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

// Asks `c` for /healthz on its connection: true when answered "ok".
bool healthy(TestClient& c) {
  c.send_all(kGetHealth);
  return body_of(c.read_response()) == "ok\n";
}

// True when the server closes `c` without sending anything.
bool closed_silently(TestClient& c) {
  bool closed = false;
  return c.read_until_close(&closed).empty() && closed;
}

class StatsServerTest : public ::testing::Test {
 protected:
  void start(StatsServerOptions options = {}, size_t routes = 1) {
    auto reactor = Reactor::create();
    ASSERT_TRUE(reactor.ok()) << reactor.error().message;
    reactor_ = std::move(reactor.value());
    auto address = resolve(HostPort{"127.0.0.1", 0});
    ASSERT_TRUE(address.ok());
    auto listener = StatsServer::open_listener(address.value());
    ASSERT_TRUE(listener.ok()) << listener.error().message;
    auto snapshot = [this, routes] {
      snapshots_.fetch_add(1);
      StatsSnapshot s;
      s.generation = 7;
      for (size_t i = 0; i < routes; ++i) {
        RouteSnapshot& r = s.routes.emplace_back();
        r.name = "route-" + std::to_string(i);
        r.listen = "127.0.0.1:8080";
        BackendSnapshot& b = r.backends.emplace_back();
        b.name = "127.0.0.1:9001";
        b.connections_total = 1;
        b.connect_errors_total = 2;
        b.connections_active = 3;
      }
      return s;
    };
    auto server = StatsServer::create(*reactor_, std::move(listener.value()), snapshot, options);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server.value());
    port_ = server_->port();
    ASSERT_NE(port_, 0);
    reactor_thread_.start(*reactor_);
  }

  void TearDown() override {
    reactor_thread_.stop();
    server_.reset();  // the reactor thread is gone: this thread owns both now
    reactor_.reset();
  }

  // Asks the reactor thread, which owns the server, how many clients it holds.
  size_t client_count() {
    std::promise<size_t> count;
    reactor_->post([&] { count.set_value(server_->client_count()); });
    return count.get_future().get();
  }

  // Returns once the server has handled every byte its clients sent so far. The first
  // round trip through the reactor may run in the batch that accepts a connection; the
  // second follows the batch that reads what it had sent (epoll reports it once the
  // socket is registered).
  void settle() {
    client_count();
    client_count();
  }

  bool wait_for_client_count(size_t wanted) {
    for (int i = 0; i < 1000; ++i) {  // up to ~10 s
      if (client_count() == wanted) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<StatsServer> server_;
  test::ReactorThread reactor_thread_;
  std::atomic<int> snapshots_{0};
  uint16_t port_ = 0;
};

TEST_F(StatsServerTest, ServesMetricsStatsAndHealth) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  ASSERT_TRUE(c.connected());
  c.send_all("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string metrics = c.read_response();
  EXPECT_TRUE(starts_with(metrics, "HTTP/1.1 200 OK\r\n")) << metrics;
  EXPECT_NE(metrics.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(body_of(metrics).find("\narus_config_generation 7\n"), std::string::npos);
  EXPECT_NE(
      body_of(metrics).find("arus_backend_up{route=\"route-0\",backend=\"127.0.0.1:9001\"} 1"),
      std::string::npos);

  c.send_all("GET /stats HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string stats = c.read_response();
  EXPECT_TRUE(starts_with(stats, "HTTP/1.1 200 OK\r\n")) << stats;
  EXPECT_NE(stats.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(body_of(stats).find("\"generation\":7"), std::string::npos);

  c.send_all(kGetHealth);
  std::string health = c.read_response();
  EXPECT_TRUE(starts_with(health, "HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(body_of(health), "ok\n");
  EXPECT_EQ(snapshots_.load(), 2);
}

TEST_F(StatsServerTest, NotFoundAndMethodNotAllowedKeepTheConnection) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  c.send_all("GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(starts_with(c.read_response(), "HTTP/1.1 404 Not Found\r\n"));
  c.send_all("PUT /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string put = c.read_response();
  EXPECT_TRUE(starts_with(put, "HTTP/1.1 405 Method Not Allowed\r\n")) << put;
  EXPECT_NE(put.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  c.send_all("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string head = c.read_response(/*head_only=*/true);
  EXPECT_TRUE(starts_with(head, "HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(head.find("Content-Length: 3\r\n"), std::string::npos);
  c.send_all(kGetHealth);
  EXPECT_EQ(body_of(c.read_response()), "ok\n") << "HEAD sent no body";
}

TEST_F(StatsServerTest, MalformedRequestGets400AndClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  c.send_all("BLAH\r\n\r\n");
  bool closed = false;
  std::string reply = c.read_until_close(&closed);
  EXPECT_TRUE(starts_with(reply, "HTTP/1.1 400 Bad Request\r\n")) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, OversizeRequestGets431AndClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  c.send_all("GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'x'));
  bool closed = false;
  std::string reply = c.read_until_close(&closed);
  EXPECT_TRUE(starts_with(reply, "HTTP/1.1 431 ")) << reply;
  EXPECT_TRUE(closed);
  EXPECT_EQ(snapshots_.load(), 0);
}

TEST_F(StatsServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  c.send_all(
      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");  // after close: never answered
  EXPECT_EQ(body_of(c.read_response()), "ok\n");
  EXPECT_TRUE(starts_with(c.read_response(), "HTTP/1.1 404 "));
  std::string last = c.read_response();
  EXPECT_TRUE(starts_with(body_of(last), "{\"version\"")) << last;
  EXPECT_NE(last.find("Connection: close\r\n"), std::string::npos);
  bool closed = false;
  EXPECT_EQ(c.read_until_close(&closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, Http10ClosesUnlessKeepAlive) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient kept(port_);
  kept.send_all("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string first = kept.read_response();
  EXPECT_TRUE(starts_with(first, "HTTP/1.0 200 OK\r\n")) << first;
  kept.send_all("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(body_of(kept.read_response()), "ok\n");
  bool closed = false;
  EXPECT_EQ(kept.read_until_close(&closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, SlowClientGets408AndClose) {
  StatsServerOptions options;
  options.request_timeout_ms = 200;
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient c(port_);
  c.send_all("GET /metrics HTTP/1.1\r\nHo");
  bool closed = false;
  std::string reply = c.read_until_close(&closed);
  EXPECT_TRUE(starts_with(reply, "HTTP/1.1 408 Request Timeout\r\n")) << reply;
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, IdleKeepAliveConnectionIsClosedSilently) {
  StatsServerOptions options;
  options.idle_timeout_ms = 200;
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient c(port_);
  c.send_all(kGetHealth);
  EXPECT_EQ(body_of(c.read_response()), "ok\n");
  bool closed = false;
  EXPECT_EQ(c.read_until_close(&closed), "");
  EXPECT_TRUE(closed);
  EXPECT_TRUE(wait_for_client_count(0));
}

TEST_F(StatsServerTest, ConnectionThatNeverAsksIsClosedAfterTheRequestTimeout) {
  StatsServerOptions options;
  options.request_timeout_ms = 200;  // the 60 s idle timeout is for kept-alive clients
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient c(port_);
  ASSERT_TRUE(c.connected());
  bool closed = false;
  EXPECT_EQ(c.read_until_close(&closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, ClientThatHalfClosesStillGetsItsAnswer) {
  ASSERT_NO_FATAL_FAILURE(start());
  TestClient c(port_);
  c.send_all("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  c.shutdown_write();
  bool closed = false;
  std::string reply = c.read_until_close(&closed);
  EXPECT_TRUE(starts_with(reply, "HTTP/1.1 200 OK\r\n")) << reply;
  EXPECT_EQ(body_of(reply), "ok\n");
  EXPECT_TRUE(closed);
}

TEST_F(StatsServerTest, LargePipelinedResponsesToASlowReaderArriveWhole) {
  StatsServerOptions options;
  options.output_high_water = 16 * 1024;
  ASSERT_NO_FATAL_FAILURE(start(options, /*routes=*/1500));  // /metrics of over 1 MB
  TestClient c(port_, /*receive_buffer=*/4096);
  std::string requests;
  for (int i = 0; i < 3; ++i) requests += "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  c.send_all(requests);
  std::string previous;
  for (int i = 0; i < 3; ++i) {
    std::string response = c.read_response();
    ASSERT_TRUE(starts_with(response, "HTTP/1.1 200 OK\r\n")) << i;
    std::string body = body_of(response);
    EXPECT_GT(body.size(), 200000u);
    EXPECT_NE(body.find("arus_backend_up{route=\"route-1499\",backend=\"127.0.0.1:9001\"} 1\n"),
              std::string::npos);
    if (i > 0) {
      EXPECT_EQ(body, previous);
    }
    previous = body;
  }
}

TEST_F(StatsServerTest, ClosedClientsAreReleased) {
  ASSERT_NO_FATAL_FAILURE(start());
  {
    TestClient a(port_);
    TestClient b(port_);
    a.send_all(kGetHealth);
    b.send_all(kGetHealth);
    EXPECT_EQ(body_of(a.read_response()), "ok\n");
    EXPECT_EQ(body_of(b.read_response()), "ok\n");
    EXPECT_EQ(client_count(), 2u);
  }
  EXPECT_TRUE(wait_for_client_count(0));
}

// Issue 12: idle keep-alive clients must not take the endpoint down for a probe.
TEST_F(StatsServerTest, FullTableClosesTheClientIdleTheLongest) {
  StatsServerOptions options;
  options.max_clients = 2;
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient oldest(port_);
  TestClient newer(port_);
  ASSERT_TRUE(healthy(oldest));
  ASSERT_TRUE(healthy(newer));
  TestClient probe(port_);
  EXPECT_TRUE(healthy(probe));
  EXPECT_TRUE(closed_silently(oldest));
  EXPECT_TRUE(healthy(newer)) << "only the oldest idle one gave way";
}

TEST_F(StatsServerTest, ClientsOverTheLimitGet503WhenNoneIsIdle) {
  StatsServerOptions options;
  options.max_clients = 1;
  options.request_timeout_ms = 60000;  // the half request stays in progress throughout
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient busy(port_);
  busy.send_all("GET /healthz HTTP/1.1\r\n");
  settle();
  TestClient refused(port_);
  bool closed = false;
  EXPECT_TRUE(starts_with(refused.read_until_close(&closed), "HTTP/1.1 503 "));
  EXPECT_TRUE(closed);
  busy.send_all("Host: t\r\n\r\n");
  EXPECT_EQ(body_of(busy.read_response()), "ok\n");
}

TEST_F(StatsServerTest, SourceAtItsCapGivesWayOnlyAmongItsOwnClients) {
  StatsServerOptions options;
  options.max_clients_per_source = 2;
  options.request_timeout_ms = 60000;
  ASSERT_NO_FATAL_FAILURE(start(options));
  TestClient other(port_, 0, "127.0.0.3");
  ASSERT_TRUE(healthy(other));  // idle the longest of all
  TestClient idle(port_, 0, "127.0.0.2");
  ASSERT_TRUE(healthy(idle));
  TestClient busy(port_, 0, "127.0.0.2");
  busy.send_all("GET /healthz HTTP/1.1\r\n");
  settle();

  TestClient third(port_, 0, "127.0.0.2");  // closes `idle`, its source's idle one
  third.send_all("GET /healthz HTTP/1.1\r\n");
  EXPECT_TRUE(closed_silently(idle));
  settle();
  TestClient fourth(port_, 0, "127.0.0.2");  // its source has two busy clients: refused
  bool closed = false;
  EXPECT_TRUE(starts_with(fourth.read_until_close(&closed), "HTTP/1.1 503 "));
  EXPECT_TRUE(healthy(other)) << "another source is never closed for it";
}

// Issue 12: a large /metrics body is not copied once per pipelining client.
TEST_F(StatsServerTest, ClientsWaitingForTheSameMetricsShareOneRendering) {
  StatsServerOptions options;
  options.share_window_ms = 600000;  // the window is not under test: no clock in play
  options.write_timeout_ms = 600000;
  ASSERT_NO_FATAL_FAILURE(start(options, /*routes=*/1500));  // /metrics of over 1 MB
  std::vector<std::unique_ptr<TestClient>> readers;
  for (int i = 0; i < 8; ++i) {
    // A small window that is not read: the body stays queued in the server.
    readers.push_back(std::make_unique<TestClient>(port_, /*receive_buffer=*/4096));
    readers.back()->send_all("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(readers.back()->got_some()) << i;
  }
  EXPECT_EQ(snapshots_.load(), 1);
  std::string body = body_of(readers.front()->read_response());
  EXPECT_GT(body.size(), 1000000u);
  for (size_t i = 1; i < readers.size(); ++i) {
    EXPECT_EQ(body_of(readers[i]->read_response()), body) << i;
  }
  // Nobody holds that rendering any more: the next scrape has fresh figures.
  readers.front()->send_all("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_FALSE(body_of(readers.front()->read_response()).empty());
  EXPECT_EQ(snapshots_.load(), 2);
}

TEST_F(StatsServerTest, ReaderThatNeverFinishesAResponseIsClosed) {
  StatsServerOptions options;
  options.response_timeout_ms = 200;
  options.write_timeout_ms = 600000;  // only the response deadline can close it
  ASSERT_NO_FATAL_FAILURE(start(options, /*routes=*/1500));
  TestClient reader(port_, /*receive_buffer=*/4096);
  reader.send_all("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(reader.got_some());
  EXPECT_TRUE(wait_for_client_count(0));
}

}  // namespace
}  // namespace arus
