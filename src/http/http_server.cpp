// HttpServer: listener, admission and per-client state machine of a small HTTP server.
// Everything runs on the reactor thread. A client's memory is bounded by its fixed 8 KB
// input buffer plus output_high_water plus one response head: page bodies are shared
// (SharedBody, OutputQueue). Every state that waits on the peer has a deadline (request,
// write, response, idle, linger), and an idle client gives its slot up to a newcomer
// (client_slots.hpp), so no client can hold a slot for long.
#include "arus/http/http_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>

#include "arus/core/log.hpp"
#include "arus/http/output_queue.hpp"
#include "arus/net/socket.hpp"

namespace arus {
namespace {

constexpr int kListenBacklog = 128;
constexpr int kMaxAcceptsPerRun = 64;
constexpr int kMaxStepsPerRun = 64;        // reads + answered requests before yielding
constexpr uint64_t kAcceptRetryMs = 1000;  // also paces the warning it logs

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

// Points at the client waiting for a reply_later() answer; cleared when it goes.
struct HttpReply::Slot {
  HttpServer::Client* client = nullptr;
};

class HttpServer::Client final : public EventHandler, public Timer {
 public:
  Client(HttpServer& server, UniqueFd fd, size_t index)
      : index_(index),
        server_(server),
        fd_(std::move(fd)),
        in_capacity_(kMaxRequestHeadBytes),
        in_(new char[in_capacity_]) {}
  ~Client() {
    if (awaiting_) awaiting_->client = nullptr;
    // Closed clients cancelled their timer and resume already, and may outlive the server.
    if (scheduled()) server_.reactor_.timers().cancel(*this);
    if (resume_pending_) server_.reactor_.cancel_resume(this);
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
    return !closed_ && !lingering_ && !close_after_flush_ && !awaiting_ && pending_output() == 0 &&
           in_size_ == 0;
  }

  // Makes room for a newcomer (HttpServer::make_room): an idle client has nothing in
  // flight, so it is closed at once, as at its idle timeout.
  void evict() noexcept { close(); }

  void on_events(uint32_t events) noexcept override {
    if (events & Reactor::kResume) resume_pending_ = false;
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
        // Still ready but this client had its share: continue after the other handlers
        // (close() withdraws the request). An event before then runs it anyway, so ask once.
        if (!resume_pending_) {
          resume_pending_ = true;
          server_.reactor_.resume_later(this);
        }
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

  // reply_later() for the request being answered.
  HttpReply defer_reply() {
    awaiting_ = std::make_shared<HttpReply::Slot>();
    awaiting_->client = this;
    awaiting_since_ms_ = now();
    return HttpReply(awaiting_);
  }

  // The reply_later() answer: queued as a handler's would have been.
  void complete_reply(std::string response, bool close_after) noexcept {
    awaiting_->client = nullptr;
    awaiting_.reset();
    begin_output();
    try {
      out_.append(response);
    } catch (...) {
      close_after = true;
    }
    if (close_after) close_after_flush_ = true;
    if (!answering_) run();  // else the handler's caller carries on
  }

  size_t index_;

 private:
  enum class Progress { kAnswered, kNeedInput, kBlocked };
  enum class Deadline { kNone, kRequest, kWrite, kIdle, kLinger };

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
    if (awaiting_) return Progress::kBlocked;
    if (pending_output() >= server_.options_.output_high_water) return Progress::kBlocked;
    // A head already parsed waits for its body; the parser is not asked again.
    HttpParseResult result =
        head_done_ ? *head_done_ : parser_.parse(std::string_view(in_.get(), in_size_));
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
    if (int refused = take_body(result); refused != 0) {
      if (refused < 0) {  // more of the body to come
        waiting_for_input_ = true;
        if (read_eof_) close_after_flush_ = true;
        return read_eof_ ? Progress::kAnswered : Progress::kNeedInput;
      }
      out_append_error(refused);
      close_after_flush_ = true;
      return Progress::kAnswered;
    }
    answered_any_ = true;
    begin_output();
    bool close = true;
    answering_ = true;
    server_.answering_ = this;
    try {
      std::string head;
      HttpResponse response = server_.handler_(result.request, head);
      out_.append(head);
      if (response.body) out_.append_shared(std::move(response.body));
      // A pending answer says itself whether the connection closes after it.
      close = response.pending ? close_after_flush_ : response.close;
      if (!response.pending && awaiting_) {  // took a reply but answered anyway
        awaiting_->client = nullptr;
        awaiting_.reset();
      }
    } catch (...) {
      if (awaiting_) {
        awaiting_->client = nullptr;
        awaiting_.reset();
      }
      out_append_error(500);
    }
    answering_ = false;
    server_.answering_ = nullptr;
    // The request views point into in_: done with them before moving the rest down.
    std::memmove(in_.get(), in_.get() + result.consumed, in_size_ - result.consumed);
    in_size_ -= result.consumed;
    parser_.reset();
    head_done_.reset();
    shrink_input();
    request_started_ms_ = in_size_ > 0 ? now() : 0;
    if (close) close_after_flush_ = true;
    return Progress::kAnswered;
  }

  // For a complete head: 0 when the request can be answered (its body, if read, in
  // request.body and counted in consumed), -1 while the body is still arriving, else the
  // status to refuse it with.
  int take_body(HttpParseResult& result) noexcept {
    HttpRequest& request = result.request;
    const size_t max_body = server_.options_.max_body_bytes;
    if (!request.has_body || max_body == 0) return 0;
    if (request.chunked) return 411;
    if (request.content_length > max_body) return 413;
    size_t whole = result.consumed + static_cast<size_t>(request.content_length);
    if (whole > in_capacity_) {
      // Only a client sending a body holds a buffer for it, and only while it does (see
      // shrink_input): idle clients keep the head-sized one.
      resize_input(whole);
      parser_.reset();  // the views point into the old buffer: parse the head again
      result = parser_.parse(std::string_view(in_.get(), in_size_));
      if (result.status != HttpParseStatus::kComplete) return 400;  // cannot happen
    }
    if (in_size_ < whole) {
      head_done_ = result;
      return -1;
    }
    request.body = std::string_view(in_.get() + result.consumed,
                                    static_cast<size_t>(request.content_length));
    result.consumed = whole;
    return 0;
  }

  void resize_input(size_t capacity) noexcept {
    std::unique_ptr<char[]> bigger(new (std::nothrow) char[capacity]);
    if (!bigger) return;  // read_input finds no room: the client is closed
    std::memcpy(bigger.get(), in_.get(), in_size_);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }

  // Back to a head-sized buffer once what is buffered fits in one.
  void shrink_input() noexcept {
    if (in_capacity_ > kMaxRequestHeadBytes && in_size_ <= kMaxRequestHeadBytes) {
      resize_input(kMaxRequestHeadBytes);
    }
  }

  void read_input() noexcept {
    size_t room = in_capacity_ - in_size_;
    if (room == 0) {  // the parser reports an over-long head before this can happen
      close_after_flush_ = true;
      return;
    }
    ssize_t n = ::recv(fd(), in_.get() + in_size_, room, 0);
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
    const HttpServerOptions& o = server_.options_;
    Deadline kind;
    uint64_t at;
    if (lingering_) {
      kind = Deadline::kLinger, at = linger_until_ms_;
    } else if (awaiting_) {
      kind = Deadline::kWrite, at = awaiting_since_ms_ + o.response_timeout_ms;
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
    if (awaiting_) {
      awaiting_->client = nullptr;
      awaiting_.reset();
    }
    server_.reactor_.timers().cancel(*this);
    if (resume_pending_) server_.reactor_.cancel_resume(this);
    resume_pending_ = false;
    fd_.reset();  // closing unregisters it from epoll
    server_.release(this);
  }

  HttpServer& server_;
  UniqueFd fd_;
  size_t in_capacity_;
  std::unique_ptr<char[]> in_;  // the head, then its body when bodies are read
  size_t in_size_ = 0;
  HttpRequestParser parser_;
  std::optional<HttpParseResult> head_done_;  // a parsed head waiting for its body
  std::shared_ptr<HttpReply::Slot> awaiting_;  // a reply_later() answer is due
  uint64_t awaiting_since_ms_ = 0;
  bool answering_ = false;  // in the handler: complete_reply must not re-enter run()
  OutputQueue out_;

  bool readable_ = true;  // edge-triggered: readiness is tracked here until EAGAIN
  bool writable_ = true;
  bool read_eof_ = false;
  bool waiting_for_input_ = true;
  bool close_after_flush_ = false;  // no further request will be answered
  bool lingering_ = false;
  bool closed_ = false;
  bool resume_pending_ = false;  // a Reactor::resume_later call is outstanding
  bool answered_any_ = false;
  Deadline armed_ = Deadline::kNone;

  uint64_t request_started_ms_ = 0;  // first byte of the request being received
  uint64_t last_write_ms_ = 0;       // output queued or last sent
  uint64_t output_since_ms_ = 0;     // output pending without a break since then
  uint64_t last_activity_ms_ = 0;
  uint64_t linger_until_ms_ = 0;
};

Result<UniqueFd> HttpServer::open_listener(const SocketAddress& address) {
  return listen_tcp(address, /*reuse_port=*/false, kListenBacklog);
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(Reactor& reactor, UniqueFd listener,
                                                       HttpHandler handler,
                                                       HttpServerOptions options) {
  const std::string name = options.name;
  if (!listener) return Error{name + ": no listening socket"};
  std::unique_ptr<HttpServer> server(
      new HttpServer(reactor, std::move(listener), std::move(handler), options));
  if (int err = reactor.add(server->listener_.get(), EPOLLIN | EPOLLET, server.get())) {
    return posix_error(name + ": epoll add listener", err);
  }
  return server;
}

HttpServer::HttpServer(Reactor& reactor, UniqueFd listener, HttpHandler handler,
                       HttpServerOptions options)
    : reactor_(reactor),
      listener_(std::move(listener)),
      options_(options),
      handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
  reactor_.timers().cancel(accept_timer_);
  if (accept_resume_pending_) reactor_.cancel_resume(this);
  // Outside dispatch (see the header), so clients can go at once; each cancels its timers.
  clients_.clear();
}

HttpReply HttpServer::reply_later() {
  if (answering_ == nullptr) throw std::logic_error("reply_later outside a handler");
  return answering_->defer_reply();
}

void HttpReply::send(std::string response, bool close) const noexcept {
  if (slot_ == nullptr || slot_->client == nullptr) return;
  slot_->client->complete_reply(std::move(response), close);
}

uint16_t HttpServer::port() const noexcept { return local_address(listener_.get()).port(); }

void HttpServer::AcceptTimer::on_timer() noexcept { server_.accept_clients(); }

void HttpServer::on_events(uint32_t events) noexcept {
  if (events & Reactor::kResume) accept_resume_pending_ = false;
  accept_clients();
}

void HttpServer::accept_clients() noexcept {
  switch (acceptor_.accept_batch(listener_.get(), kMaxAcceptsPerRun, *this)) {
    case Acceptor::End::kDrained:
      break;
    case Acceptor::End::kBatchFull:
      // There may be more waiting; give the other handlers a turn first. An event before
      // the resume runs the batch anyway: ask once.
      if (!accept_resume_pending_) {
        accept_resume_pending_ = true;
        reactor_.resume_later(this);
      }
      break;
    case Acceptor::End::kRetryLater:
      reactor_.timers().schedule(accept_timer_, reactor_.now_ms() + kAcceptRetryMs);
      break;
  }
}

void HttpServer::on_accepted(UniqueFd fd, const SocketAddress& peer) noexcept {
  if (!make_room(peer)) {
    std::string busy;
    append_error_response(503, busy);
    (void)!::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return;  // closed by ~UniqueFd
  }
  // Best effort: a socket left with the default buffer only costs more memory.
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options_.send_buffer_bytes,
                     sizeof options_.send_buffer_bytes);
  auto client = std::make_unique<Client>(*this, std::move(fd), clients_.size());
  if (int err = reactor_.add(client->fd(), Reactor::kAllEvents, client.get())) {
    log::warn(std::string(options_.name) + " client not registered").kv("error", strerror(err));
    return;
  }
  clients_.push_back(std::move(client));
  slots_.push_back(ClientSlot{SourceKey(peer.ip_bytes())});
  clients_.back()->start();
}

// Without a reserve (see acceptor_) there are no refusals.
void HttpServer::on_refused_no_descriptor(const SocketAddress& /*peer*/) noexcept {}

void HttpServer::on_accept_error(int error) noexcept {
  // EMFILE and friends leave the connection in the backlog and, edge-triggered, no new
  // event would come for it: the acceptor ends the batch to retry on the timer.
  log::warn(std::string(options_.name) + " accept failed").kv("error", strerror(error));
}

bool HttpServer::make_room(const SocketAddress& peer) noexcept {
  SlotLimits limits{options_.max_clients, options_.max_clients_per_source};
  SlotChoice choice = choose_slot(slots_, SourceKey(peer.ip_bytes()), limits);
  if (choice.action == SlotChoice::Action::kAdmit) return true;
  if (log::enabled(log::Level::kDebug)) {
    log::debug(std::string(options_.name) + (choice.action == SlotChoice::Action::kRefuse
                                                 ? " client refused"
                                                 : " client closed to make room"))
        .kv("client", peer.to_string())
        .kv("cap", choice.cap == SlotChoice::Cap::kSource ? "source" : "total");
  }
  if (choice.action == SlotChoice::Action::kRefuse) return false;
  clients_[choice.victim]->evict();
  return true;
}

void HttpServer::set_idle(size_t index, bool idle) noexcept {
  ClientSlot& slot = slots_[index];
  if (idle && !slot.idle) slot.idle_order = next_idle_order_++;
  slot.idle = idle;
}

void HttpServer::release(Client* client) noexcept {
  size_t index = client->index_;
  std::unique_ptr<Client> owned = std::move(clients_[index]);
  if (index + 1 != clients_.size()) {
    clients_[index] = std::move(clients_.back());
    clients_[index]->index_ = index;
    slots_[index] = slots_.back();
  }
  clients_.pop_back();
  slots_.pop_back();
  // A stale event for it may still be queued in this batch: free it after the batch.
  dead_.push_back(std::move(owned));
  if (!reap_deferred_) {
    reap_deferred_ = true;
    reactor_.defer([this] {
      dead_.clear();
      reap_deferred_ = false;
    });
  }
}

}  // namespace arus
