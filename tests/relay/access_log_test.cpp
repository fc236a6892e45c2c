// log_access: the one access line, for a relayed connection and a refused one alike.
#include "arus/relay/access_log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <string>

#include "../plugin/filter_test_util.hpp"

namespace arus {
namespace {

SocketAddress loopback(uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
}

// What follows the timestamp and level.
std::string body(const std::string& line) {
  size_t first = line.find(' ');
  return line.substr(line.find(' ', first + 1) + 1);
}

TEST(AccessLogTest, RelayedConnectionNamesBackendBytesAndError) {
  SocketAddress client = loopback(40000);
  SocketAddress backend = loopback(9000);
  testing::StderrCapture capture;
  log_access(AccessRecord{.route = "web",
                          .client = &client,
                          .backend = &backend,
                          .client_to_backend = 12,
                          .backend_to_client = 345,
                          .duration_ms = 6,
                          .reason = CloseReason::kBackendReset,
                          .error = ECONNRESET});
  EXPECT_EQ(body(capture.text()),
            "access route=web client=127.0.0.1:40000 backend=127.0.0.1:9000 "
            "client_to_backend=12 backend_to_client=345 duration_ms=6 close=backend_reset "
            "error=ECONNRESET\n");
}

TEST(AccessLogTest, RefusedConnectionHasNoBackendAndNoError) {
  SocketAddress client = loopback(40001);
  testing::StderrCapture capture;
  log_access(AccessRecord{.route = "web", .client = &client, .reason = CloseReason::kLimit});
  EXPECT_EQ(body(capture.text()),
            "access route=web client=127.0.0.1:40001 backend=- client_to_backend=0 "
            "backend_to_client=0 duration_ms=0 close=limit\n");
}

}  // namespace
}  // namespace arus
