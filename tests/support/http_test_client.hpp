// TestClient: a blocking HTTP test client over loopback TCP with a 10 s deadline on
// every read, for tests of the servers built on HttpServer; body_of: a response's body.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>
#include <utility>

#include "arus/core/unique_fd.hpp"

namespace arus::test {

// What follows the head of `response` (empty when the head is not whole).
inline std::string body_of(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class TestClient {
 public:
  // `source`: a 127.x.y.z address to connect from (all loopback on Linux), or null.
  explicit TestClient(uint16_t port, int receive_buffer = 0, const char* source = nullptr) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval deadline{10, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
    setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &deadline, sizeof deadline);
    if (receive_buffer > 0) {
      setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, source, &local.sin_addr);
      ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  bool connected() const { return connected_; }

  void send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

  // One response: head, then Content-Length bytes of body unless `head_only`.
  // Empty when the connection ends (or the deadline passes) first.
  std::string read_response(bool head_only = false) {
    size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return "";
    }
    size_t body = 0;
    size_t at = buffer_.find("\r\nContent-Length: ");
    if (at != std::string::npos && at < head_end) body = std::stoul(buffer_.substr(at + 18));
    size_t total = head_end + 4 + (head_only ? 0 : body);
    while (buffer_.size() < total) {
      if (!fill()) return "";
    }
    std::string response = buffer_.substr(0, total);
    buffer_.erase(0, total);
    return response;
  }

  // True once the server sent something (waits up to the receive deadline); reads it.
  bool got_some() { return fill(); }

  // Everything until the server closes; `closed` tells whether EOF was seen.
  std::string read_until_close(bool* closed) {
    while (fill()) {
    }
    *closed = eof_;
    return std::exchange(buffer_, "");
  }

 private:
  bool fill() {
    char chunk[65536];
    ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    eof_ = n == 0;
    return false;
  }

  UniqueFd fd_;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

}  // namespace arus::test
