// StatsServer: listener, admission and per-client state machine of the stats endpoint.
// Everything runs on the reactor thread. A client's memory is bounded by its fixed 8 KB
// input buffer plus output_high_water plus one response head: page bodies are shared
// (PageCache, OutputQueue). Every state that waits on the peer has a deadline (request,
// write, response, idle, linger), and an idle client gives its slot up to a newcomer
// (client_slots.hpp), so no client can hold a slot for long.
#include "arus/stats/stats_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "arus/core/log.hpp"
#include "arus/net/socket.hpp"
#include "arus/stats/output_queue.hpp"

namespace arus {
namespace {

constexpr int kListenBacklog = 128;
constexpr int kMaxAcceptsPerRun = 64;
constexpr int kMaxStepsPerRun = 64;        // reads + answered requests before yielding
constexpr uint64_t kAcceptRetryMs = 1000;  // also paces the warning it logs

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

PageCache::RenderFn page_renderer(StatsSnapshotFn snapshot) {
  return [snapshot = std::move(snapshot)](StatsPage page) { return render_page(page, snapshot()); };
}

}  // namespace

struct StatsServer::Graveyard {
  std::vector<std::unique_ptr<Client>> dead;
  bool reap_posted = false;
};

class StatsServer::Client final : public EventHandler, public Timer {
 public:
  Client(StatsServer& server, UniqueFd fd, size_t index)
      : index_(index), server_(server), fd_(std::move(fd)) {}
  ~Client() {
    // Closed clients cancelled their timers already, and may outlive the server.
    if (scheduled()) server_.reactor_.timers().cancel(*this);
    if (yield_.scheduled()) server_.reactor_.timers().cancel(yield_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const noexcept { return fd_.get(); }

  void start() noexcept {
    last_activity_ms_ = now();
    arm_deadline();
    server_.set_idle(index_, idle());
  }

  // Between requests, so closing it loses nothing (see ClientSlot::idle).
  bool idle() const noexcept {
    return !closed_ && !lingering_ && !close_after_flush_ && pending_output() == 0 && in_size_ == 0;
  }

  // Makes room for a newcomer (StatsServer::make_room): an idle client has nothing in
  // flight, so it is closed at once, as at its idle timeout.
  void evict() noexcept { close(); }

  void on_events(uint32_t events) noexcept override {
    if (closed_) return;  // stale event from the batch that closed it
    if (events & EPOLLERR) return close();
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) readable_ = true;
    if (events & (EPOLLOUT | EPOLLHUP)) writable_ = true;
    run();
  }

  // The deadline armed last has passed: act on what it was for.
  void on_timer() noexcept override {
    if (closed_) return;
    if (armed_ == Deadline::kRequest) {
      out_append_error(408);
      close_after_flush_ = true;
      run();
      return;
    }
    close();  // linger over, write stalled, or idle
  }

  void run() noexcept {
    for (int steps = 0; !closed_; ++steps) {
      if (steps == kMaxStepsPerRun) {
        // Still ready but this client had its share: continue in a later batch. A timer
        // rather than Reactor::resume_later, because a timer can be cancelled on close.
        server_.reactor_.timers().schedule(yield_, now());
        break;
      }
      if (!flush()) return;
      if (lingering_) {
        if (!discard_input()) continue;  // more to discard: count it as a step
        break;
      }
      if (close_after_flush_) {
        if (pending_output() > 0) break;  // wait for EPOLLOUT
        start_linger();
        continue;
      }
      Progress progress = answer_buffered();
      if (progress == Progress::kAnswered) continue;
      if (progress == Progress::kNeedInput && readable_ && !read_eof_) {
        read_input();
        continue;
      }
      break;  // blocked on output, or waiting for the peer
    }
    arm_deadline();
    if (!closed_) server_.set_idle(index_, idle());
  }

  size_t index_;

 private:
  enum class Progress { kAnswered, kNeedInput, kBlocked };
  enum class Deadline { kNone, kRequest, kWrite, kIdle, kLinger };

  struct YieldTimer : Timer {
    explicit YieldTimer(Client& owner) : owner_(owner) {}
    void on_timer() noexcept override { owner_.run(); }
    Client& owner_;
  };

  uint64_t now() const noexcept { return server_.reactor_.now_ms(); }
  size_t pending_output() const noexcept { return out_.pending(); }

  // Before queueing a response: the write and response deadlines count from the moment
  // there is something to send.
  void begin_output() noexcept {
    if (pending_output() == 0) last_write_ms_ = output_since_ms_ = now();
  }

  void out_append_error(int status) noexcept {
    begin_output();
    try {
      std::string response;
      append_error_response(status, response);
      out_.append(response);
    } catch (...) {  // out of memory: the close that follows is answer enough
    }
  }

  // Returns false when the client was closed.
  bool flush() noexcept {
    while (pending_output() > 0 && writable_) {
      iovec iov[8];
      msghdr message{};
      message.msg_iov = iov;
      message.msg_iovlen = out_.peek(iov, std::size(iov));
      ssize_t n = ::sendmsg(fd(), &message, MSG_NOSIGNAL);
      if (n > 0) {
        out_.consume(static_cast<size_t>(n));
        last_write_ms_ = last_activity_ms_ = now();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && would_block(errno)) {
        writable_ = false;
      } else {
        close();
        return false;
      }
    }
    return true;
  }

  // Answers complete requests already in the input buffer, in order.
  Progress answer_buffered() noexcept {
    if (pending_output() >= server_.options_.output_high_water) return Progress::kBlocked;
    HttpParseResult result = parser_.parse(std::string_view(in_, in_size_));
    waiting_for_input_ = result.status == HttpParseStatus::kIncomplete;
    if (result.status == HttpParseStatus::kIncomplete) {
      if (read_eof_) close_after_flush_ = true;  // a half request will never complete
      return read_eof_ ? Progress::kAnswered : Progress::kNeedInput;
    }
    if (result.status == HttpParseStatus::kBad) {
      out_append_error(result.error_status);
      close_after_flush_ = true;
      return Progress::kAnswered;
    }
    answered_any_ = true;
    begin_output();
    bool close = true;
    try {
      std::string head;
      StatsResponse response = append_stats_response(result.request, server_.page_body_, head);
      out_.append(head);
      if (response.body) out_.append_shared(std::move(response.body));
      close = response.close;
    } catch (...) {
      out_append_error(500);
    }
    // The request views point into in_: done with them before moving the rest down.
    std::memmove(in_, in_ + result.consumed, in_size_ - result.consumed);
    in_size_ -= result.consumed;
    parser_.reset();
    request_started_ms_ = in_size_ > 0 ? now() : 0;
    if (close) close_after_flush_ = true;
    return Progress::kAnswered;
  }

  void read_input() noexcept {
    size_t room = sizeof in_ - in_size_;
    if (room == 0) {  // the parser reports an over-long head before this can happen
      close_after_flush_ = true;
      return;
    }
    ssize_t n = ::recv(fd(), in_ + in_size_, room, 0);
    if (n > 0) {
      if (in_size_ == 0) request_started_ms_ = now();
      in_size_ += static_cast<size_t>(n);
      last_activity_ms_ = now();
      server_.set_idle(index_, false);  // no longer a candidate to make room
    } else if (n == 0) {
      read_eof_ = true;
    } else if (errno == EINTR) {
      // try again on the next step
    } else if (would_block(errno)) {
      readable_ = false;
    } else {
      read_eof_ = true;  // ECONNRESET and the like: nothing more will come
    }
  }

  // After the last response: stop sending, then read and drop whatever the client still
  // sends until it closes, so our close does not turn into a reset that could destroy
  // the response in flight.
  void start_linger() noexcept {
    lingering_ = true;
    ::shutdown(fd(), SHUT_WR);
    linger_until_ms_ = now() + server_.options_.linger_ms;
  }

  // Returns false while there may be more to discard right now.
  bool discard_input() noexcept {
    if (read_eof_) {
      close();
      return true;
    }
    if (!readable_) return true;
    char scratch[4096];
    ssize_t n = ::recv(fd(), scratch, sizeof scratch, 0);
    if (n > 0) return false;
    if (n < 0 && errno == EINTR) return false;
    if (n < 0 && would_block(errno)) {
      readable_ = false;
      return true;
    }
    close();
    return true;
  }

  void arm_deadline() noexcept {
    if (closed_) return;
    const StatsServerOptions& o = server_.options_;
    Deadline kind;
    uint64_t at;
    if (lingering_) {
      kind = Deadline::kLinger, at = linger_until_ms_;
    } else if (pending_output() > 0) {
      kind = Deadline::kWrite;
      at = std::min(last_write_ms_ + o.write_timeout_ms, output_since_ms_ + o.response_timeout_ms);
    } else if (close_after_flush_) {
      kind = Deadline::kNone, at = 0;  // about to linger: run() arms that
    } else if (in_size_ > 0 && waiting_for_input_) {
      kind = Deadline::kRequest, at = request_started_ms_ + o.request_timeout_ms;
    } else {
      // A connection that never asked anything gets no more time than a slow request:
      // silent connections cannot hold the client slots for a whole idle period.
      kind = Deadline::kIdle;
      at = last_activity_ms_ + (answered_any_ ? o.idle_timeout_ms : o.request_timeout_ms);
    }
    armed_ = kind;
    if (kind == Deadline::kNone) {
      server_.reactor_.timers().cancel(*this);
    } else if (!scheduled() || expiry_ms() != at) {
      server_.reactor_.timers().schedule(*this, at);
    }
  }

  void close() noexcept {
    if (closed_) return;
    closed_ = true;
    server_.reactor_.timers().cancel(*this);
    server_.reactor_.timers().cancel(yield_);
    fd_.reset();  // closing unregisters it from epoll
    server_.release(this);
  }

  StatsServer& server_;
  UniqueFd fd_;
  YieldTimer yield_{*this};
  char in_[kMaxRequestHeadBytes];
  size_t in_size_ = 0;
  HttpRequestParser parser_;
  OutputQueue out_;

  bool readable_ = true;  // edge-triggered: readiness is tracked here until EAGAIN
  bool writable_ = true;
  bool read_eof_ = false;
  bool waiting_for_input_ = true;
  bool close_after_flush_ = false;  // no further request will be answered
  bool lingering_ = false;
  bool closed_ = false;
  bool answered_any_ = false;
  Deadline armed_ = Deadline::kNone;

  uint64_t request_started_ms_ = 0;  // first byte of the request being received
  uint64_t last_write_ms_ = 0;       // output queued or last sent
  uint64_t output_since_ms_ = 0;     // output pending without a break since then
  uint64_t last_activity_ms_ = 0;
  uint64_t linger_until_ms_ = 0;
};

Result<UniqueFd> StatsServer::open_listener(const SocketAddress& address) {
  return listen_tcp(address, /*reuse_port=*/false, kListenBacklog);
}

Result<std::unique_ptr<StatsServer>> StatsServer::create(Reactor& reactor, UniqueFd listener,
                                                         StatsSnapshotFn snapshot,
                                                         StatsServerOptions options) {
  if (!listener) return Error{"stats: no listening socket"};
  std::unique_ptr<StatsServer> server(
      new StatsServer(reactor, std::move(listener), std::move(snapshot), options));
  if (int err = reactor.add(server->listener_.get(), EPOLLIN | EPOLLET, server.get())) {
    return posix_error("stats: epoll add listener", err);
  }
  return server;
}

StatsServer::StatsServer(Reactor& reactor, UniqueFd listener, StatsSnapshotFn snapshot,
                         StatsServerOptions options)
    : reactor_(reactor),
      listener_(std::move(listener)),
      options_(options),
      pages_(page_renderer(std::move(snapshot)), options.share_window_ms),
      page_body_([this](StatsPage page) { return pages_.body(page, reactor_.now_ms()); }),
      graveyard_(std::make_shared<Graveyard>()) {}

StatsServer::~StatsServer() {
  reactor_.timers().cancel(accept_timer_);
  // Outside dispatch (see the header), so clients can go at once; each cancels its timers.
  clients_.clear();
}

uint16_t StatsServer::port() const noexcept {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return 0;
  }
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

void StatsServer::AcceptTimer::on_timer() noexcept { server_.accept_clients(); }

void StatsServer::on_events(uint32_t /*events*/) noexcept { accept_clients(); }

void StatsServer::accept_clients() noexcept {
  for (int i = 0; i < kMaxAcceptsPerRun; ++i) {
    sockaddr_storage peer_storage{};
    socklen_t peer_length = sizeof peer_storage;
    int raw = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer_storage), &peer_length,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (raw < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (would_block(err)) return;
      // EMFILE and friends leave the connection in the backlog and, edge-triggered, no
      // new event would come for it: retry on a timer.
      log::warn("stats accept failed").kv("error", strerror(err));
      reactor_.timers().schedule(accept_timer_, reactor_.now_ms() + kAcceptRetryMs);
      return;
    }
    UniqueFd fd(raw);
    SocketAddress peer =
        SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&peer_storage), peer_length);
    if (!make_room(peer)) {
      std::string busy;
      append_error_response(503, busy);
      (void)!::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;  // closed by ~UniqueFd
    }
    // Best effort: a socket left with the default buffer only costs more memory.
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options_.send_buffer_bytes,
                       sizeof options_.send_buffer_bytes);
    auto client = std::make_unique<Client>(*this, std::move(fd), clients_.size());
    if (int err = reactor_.add(client->fd(), Reactor::kAllEvents, client.get())) {
      log::warn("stats client not registered").kv("error", strerror(err));
      continue;
    }
    clients_.push_back(std::move(client));
    slots_.push_back(ClientSlot{SourceKey(peer.ip_bytes())});
    clients_.back()->start();
  }
  // A full batch: there may be more waiting; give the other handlers a turn first.
  reactor_.timers().schedule(accept_timer_, reactor_.now_ms());
}

bool StatsServer::make_room(const SocketAddress& peer) noexcept {
  SlotLimits limits{options_.max_clients, options_.max_clients_per_source};
  SlotChoice choice = choose_slot(slots_, SourceKey(peer.ip_bytes()), limits);
  if (choice.action == SlotChoice::Action::kAdmit) return true;
  if (log::enabled(log::Level::kDebug)) {
    log::debug(choice.action == SlotChoice::Action::kRefuse ? "stats client refused"
                                                            : "stats client closed to make room")
        .kv("client", peer.to_string())
        .kv("cap", choice.cap == SlotChoice::Cap::kSource ? "source" : "total");
  }
  if (choice.action == SlotChoice::Action::kRefuse) return false;
  clients_[choice.victim]->evict();
  return true;
}

void StatsServer::set_idle(size_t index, bool idle) noexcept {
  ClientSlot& slot = slots_[index];
  if (idle && !slot.idle) slot.idle_order = next_idle_order_++;
  slot.idle = idle;
}

void StatsServer::release(Client* client) noexcept {
  size_t index = client->index_;
  std::unique_ptr<Client> owned = std::move(clients_[index]);
  if (index + 1 != clients_.size()) {
    clients_[index] = std::move(clients_.back());
    clients_[index]->index_ = index;
    slots_[index] = slots_.back();
  }
  clients_.pop_back();
  slots_.pop_back();
  graveyard_->dead.push_back(std::move(owned));
  if (!graveyard_->reap_posted) {
    graveyard_->reap_posted = true;
    reactor_.post([graveyard = graveyard_] {
      graveyard->dead.clear();
      graveyard->reap_posted = false;
    });
  }
}

}  // namespace arus
