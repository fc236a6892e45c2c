// AdminServer: the admin listener's socket (unix or loopback TCP) and its answers.
#include "arus/app/admin_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "arus/http/http_response.hpp"
#include "arus/stats/json_exporter.hpp"

namespace arus {
namespace {

constexpr int kBacklog = 128;

Result<UniqueFd> listen_unix(const std::string& path, uid_t owner_uid, gid_t owner_gid) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return Error{"unix:" + path + ": path too long"};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const auto* sa = reinterpret_cast<const sockaddr*>(&address);
  const socklen_t length = sizeof address;

  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Error{"unix:" + path + ": exists and is not a socket"};
    // A socket file left by a process that is gone is replaced; a live one is not.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), sa, length) == 0) {
      return Error{"unix:" + path + ": another process listens on it"};
    }
    if (::unlink(path.c_str()) != 0) return posix_error("unix:" + path + ": unlink", errno);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return posix_error("unix:" + path + ": socket", errno);
  // Born 0600: no moment where another user could connect.
  mode_t old_mask = ::umask(0177);
  int bound = ::bind(fd.get(), sa, length);
  int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0) return posix_error("bind unix:" + path, bind_errno);
  if (::chmod(path.c_str(), 0600) != 0) return posix_error("chmod unix:" + path, errno);
  if (::geteuid() == 0 && (owner_uid != 0 || owner_gid != 0)) {
    if (::chown(path.c_str(), owner_uid, owner_gid) != 0) {
      return posix_error("chown unix:" + path, errno);
    }
  }
  if (::listen(fd.get(), kBacklog) != 0) return posix_error("listen unix:" + path, errno);
  return fd;
}

}  // namespace

Result<UniqueFd> AdminServer::open_listener(const AdminConfig& admin, uid_t owner_uid,
                                            gid_t owner_gid) {
  if (!admin.unix_path.empty()) return listen_unix(admin.unix_path, owner_uid, owner_gid);
  return HttpServer::open_listener(admin.address);
}

Result<std::unique_ptr<AdminServer>> AdminServer::create(Reactor& reactor, UniqueFd listener,
                                                         AdminRunner runner) {
  std::unique_ptr<AdminServer> server(new AdminServer(std::move(runner)));
  HttpServerOptions options;
  options.name = "admin";
  options.max_body_bytes = kMaxAdminBodyBytes;
  // A unix socket's clients all look alike (no address): the total cap bounds them.
  options.max_clients_per_source = 0;
  AdminServer* raw = server.get();
  auto http = HttpServer::create(
      reactor, std::move(listener),
      [raw](const HttpRequest& request, std::string& out) { return raw->answer(request, out); },
      options);
  if (!http) return std::move(http).error();
  server->http_ = std::move(*http);
  return server;
}

HttpResponse AdminServer::answer(const HttpRequest& request, std::string& out) {
  HttpResponse response;
  response.close = !request.keep_alive;
  const bool close = response.close;
  const int minor = request.version_minor;
  const bool head = request.method == "HEAD";
  AdminRequest parsed = parse_admin_request(request);
  if (parsed.status != 0) {
    std::string allow = parsed.allow.empty() ? "" : "Allow: " + parsed.allow + "\r\n";
    append_http_response(out, parsed.status, minor, close, kJsonContentType,
                         admin_error_json(parsed.error) + "\n", head, allow);
    return response;
  }
  HttpReply reply = http_->reply_later();
  response.pending = true;
  runner_(std::move(parsed.command), [reply, minor, close, head](int status, std::string json) {
    std::string bytes;
    json += '\n';
    append_http_response(bytes, status, minor, close, kJsonContentType, json, head);
    reply.send(std::move(bytes), close);
  });
  return response;
}

}  // namespace arus
