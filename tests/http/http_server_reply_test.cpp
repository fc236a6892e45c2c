// HttpServer's request bodies (max_body_bytes) and answers given later (reply_later), on
// 127.0.0.1 with a Reactor running in a thread and blocking test clients.
#include "arus/http/http_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "../support/http_test_client.hpp"
#include "../support/reactor_thread.hpp"

namespace arus {
namespace {

using test::body_of;
using test::TestClient;

std::string ok(std::string_view body, bool close) {
  std::string out;
  append_http_response(out, 200, 1, close, "text/plain", body, false);
  return out;
}

class HttpServerReplyTest : public ::testing::Test {
 protected:
  // Answers "/echo" with the body, "/later" through reply_later (kept in `later_`, sent
  // by the test), anything else "x".
  void start(size_t max_body) {
    auto reactor = Reactor::create();
    ASSERT_TRUE(reactor.ok());
    reactor_ = std::move(reactor.value());
    auto listener = HttpServer::open_listener(resolve(HostPort{"127.0.0.1", 0}).value());
    ASSERT_TRUE(listener.ok());
    HttpServerOptions options;
    options.max_body_bytes = max_body;
    auto server = HttpServer::create(
        *reactor_, std::move(listener.value()),
        [this](const HttpRequest& request, std::string& out) {
          HttpResponse response;
          response.close = !request.keep_alive;
          if (request.path == "/later") {
            later_ = server_->reply_later();
            later_close_ = response.close;
            response.pending = true;
            waiting_.store(true);
            return response;
          }
          out = ok(request.path == "/echo" ? request.body : "x", response.close);
          return response;
        },
        options);
    ASSERT_TRUE(server.ok());
    server_ = std::move(server.value());
    port_ = server_->port();
    reactor_thread_.start(*reactor_);
  }

  void TearDown() override {
    reactor_thread_.stop();
    server_.reset();
    reactor_.reset();
  }

  // Sends the pending answer from the reactor thread, as a finished task would.
  void answer_later(std::string_view body) {
    std::promise<void> done;
    reactor_->post([&] {
      later_.send(ok(body, later_close_), later_close_);
      done.set_value();
    });
    done.get_future().get();
  }

  void wait_for_pending() {
    while (!waiting_.load()) std::this_thread::yield();
    waiting_ = false;
  }

  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<HttpServer> server_;
  HttpReply later_;  // reactor thread only
  bool later_close_ = false;
  std::atomic<bool> waiting_{false};
  uint16_t port_ = 0;
  test::ReactorThread reactor_thread_;
};

TEST_F(HttpServerReplyTest, BodyReadWholeEvenInPieces) {
  start(1024);
  TestClient c(port_);
  c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello");
  c.send_all(" world");
  EXPECT_EQ(body_of(c.read_response()), "hello world");
}

TEST_F(HttpServerReplyTest, BodyLargerThanTheHeadBufferThenAnotherRequest) {
  start(100000);
  TestClient c(port_);
  std::string body(50000, 'b');
  c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50000\r\n\r\n" + body +
             "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(body_of(c.read_response()), body);
  // A request with a body closes its connection (keep_alive is false for it).
  bool closed = false;
  EXPECT_EQ(c.read_until_close(&closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerReplyTest, OversizedBodyIs413AndChunkedIs411) {
  start(8);
  TestClient big(port_);
  big.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n123456789");
  EXPECT_EQ(big.read_response().rfind("HTTP/1.1 413 ", 0), 0u);
  TestClient chunked(port_);
  chunked.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.read_response().rfind("HTTP/1.1 411 ", 0), 0u);
}

TEST_F(HttpServerReplyTest, WithoutMaxBodyTheBodyIsNotRead) {
  start(0);
  TestClient c(port_);
  c.send_all("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
  std::string response = c.read_response();
  EXPECT_EQ(response.rfind("HTTP/1.1 200 ", 0), 0u);
  EXPECT_EQ(body_of(response), "");
}

TEST_F(HttpServerReplyTest, LaterAnswerComesThenPipelinedRequestsGoOn) {
  start(0);
  TestClient c(port_);
  c.send_all("GET /later HTTP/1.1\r\nHost: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  wait_for_pending();
  answer_later("done");
  EXPECT_EQ(body_of(c.read_response()), "done");
  EXPECT_EQ(body_of(c.read_response()), "x");  // answered only after the later one
}

TEST_F(HttpServerReplyTest, LaterAnswerWithCloseClosesAfterIt) {
  start(0);
  TestClient c(port_);
  c.send_all("GET /later HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  wait_for_pending();
  answer_later("bye");
  bool closed = false;
  std::string rest = c.read_until_close(&closed);
  EXPECT_EQ(body_of(rest), "bye");
  EXPECT_TRUE(closed);
}

TEST_F(HttpServerReplyTest, LaterAnswerForAGoneClientIsDropped) {
  start(0);
  {
    TestClient c(port_);
    c.send_all("GET /later HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for_pending();
  }  // the client goes away first
  // Until the server notices, then after: neither send may touch a freed client.
  answer_later("nobody");
  answer_later("nobody again");
  TestClient next(port_);
  next.send_all("GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(body_of(next.read_response()), "x");
}

}  // namespace
}  // namespace arus
