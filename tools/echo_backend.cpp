// arus-echo: a tiny TCP echo server for trying arus-proxy by hand (`make run` starts it
// beside the proxy). Echoes every byte back; on the client's FIN, finishes and closes.
// One thread per connection: simple over fast; it is a demo backend, not part of the proxy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

void echo_until_eof(int fd) {
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(fd, buffer + done, static_cast<size_t>(n - done));
      if (w <= 0) {
        ::close(fd);
        return;
      }
      done += w;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = argc > 1 ? argv[1] : "127.0.0.1:9001";
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    fprintf(stderr, "usage: arus-echo IPV4:PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(atoi(address.c_str() + colon + 1)));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &sin.sin_addr) != 1) {
    fprintf(stderr, "arus-echo: bad address %s\n", address.c_str());
    return 2;
  }
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 ||
      ::listen(listener, 128) != 0) {
    fprintf(stderr, "arus-echo: cannot listen on %s: %s\n", address.c_str(), strerror(errno));
    return 1;
  }
  fprintf(stderr, "arus-echo: echoing on %s\n", address.c_str());
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(echo_until_eof, fd).detach();
  }
}
