// Worker: what only the worker decides, on its own thread with real sockets on
// 127.0.0.1 — which generation a new connection starts on and when an old one is let go,
// drain, the connection caps, the open-connection count, stop. The test holds the
// listening sockets' and the backends' other ends and drives them from its own thread;
// the worker is reached only through its thread-safe commands and counters, as the
// server reaches it.
#include "arus/worker/worker.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../plugin/filter_test_util.hpp"
#include "../support/route_config.hpp"
#include "arus/net/socket.hpp"
#include "arus/runtime/snapshot_builder.hpp"

namespace arus {
namespace {

using testing::StderrCapture;

constexpr int kWaitMs = 10'000;  // a bound on every wait, never a timing assumption

bool wait_for(int fd, short events, int timeout_ms = kWaitMs) {
  pollfd ready{fd, events, 0};
  return ::poll(&ready, 1, timeout_ms) == 1;
}

// Polls `done()` until it holds; false after 10 s.
template <typename Done>
bool wait_until(Done done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A listening socket on a free port of 127.0.0.1: a route's listener (SO_REUSEPORT, as
// the server binds them) or a backend.
struct Listening {
  UniqueFd fd;
  SocketAddress address;

  static Listening open(bool reuse_port) {
    Listening out;
    Result<SocketAddress> any = resolve(HostPort{"127.0.0.1", 0});
    EXPECT_TRUE(any.ok());
    if (!any) return out;
    Result<UniqueFd> fd = listen_tcp(any.value(), reuse_port, 64);
    EXPECT_TRUE(fd.ok());
    if (!fd) return out;
    out.address = local_address(fd.value().get());
    out.fd = std::move(fd.value());
    return out;
  }

  // The next connection made to it (invalid when none came within 10 s).
  UniqueFd accept() const {
    if (!wait_for(fd.get(), POLLIN)) return UniqueFd();
    return UniqueFd(accept4(fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
  }
  // Whether a connection is waiting to be accepted, now.
  bool has_pending() const { return wait_for(fd.get(), POLLIN, 0); }
};

Listening route_listener() { return Listening::open(/*reuse_port=*/true); }
Listening backend() { return Listening::open(/*reuse_port=*/false); }

// A connected client socket, or the errno of a refused connect.
struct Dialed {
  UniqueFd fd;
  int error = 0;
};

Dialed dial(const SocketAddress& address) {
  ConnectAttempt attempt = connect_tcp(address);
  if (!attempt.fd) return {UniqueFd(), attempt.error};
  if (!wait_for(attempt.fd.get(), POLLOUT)) return {UniqueFd(), ETIMEDOUT};
  if (int error = socket_error(attempt.fd.get()); error != 0) return {UniqueFd(), error};
  return {std::move(attempt.fd), 0};
}

// Small messages only: they fit the socket buffer, so one send takes them.
bool send_text(const UniqueFd& fd, const std::string& text) {
  return ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(text.size());
}

// What arrives until `size` bytes have come, the peer ended, or 10 s passed.
std::string receive(const UniqueFd& fd, size_t size) {
  std::string received;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (received.size() < size && std::chrono::steady_clock::now() < deadline) {
    if (!wait_for(fd.get(), POLLIN, 100)) continue;
    char chunk[4096];
    ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) received.append(chunk, static_cast<size_t>(n));
  }
  return received;
}

// Whether the peer closed (FIN or reset) within 10 s; bytes before it are dropped.
bool sees_end(const UniqueFd& fd) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!wait_for(fd.get(), POLLIN, 100)) continue;
    char chunk[4096];
    ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

// A client relayed to a backend: both ends of one proxied connection.
struct Relayed {
  UniqueFd client;
  UniqueFd backend;

  // Ends the connection as a client that closes first does: the backend sees the FIN
  // (the relay half-closes) and closes its side too.
  void close_from_client() {
    client.reset();
    EXPECT_TRUE(sees_end(backend));
    backend.reset();
  }
  void close_from_backend() {
    backend.reset();
    EXPECT_TRUE(sees_end(client));
    client.reset();
  }

  // One message each way; true when both arrived whole.
  bool round_trip(const std::string& tag) const {
    if (!send_text(client, "to backend " + tag)) return false;
    if (receive(backend, 11 + tag.size()) != "to backend " + tag) return false;
    if (!send_text(backend, "to client " + tag)) return false;
    return receive(client, 10 + tag.size()) == "to client " + tag;
  }
};

// Connects to `address` and expects the worker to relay it to `to`.
Relayed relay_through(const SocketAddress& address, const Listening& to) {
  Relayed out;
  Dialed client = dial(address);
  EXPECT_EQ(client.error, 0) << strerror(client.error);
  out.client = std::move(client.fd);
  if (!out.client) return out;
  out.backend = to.accept();
  EXPECT_TRUE(out.backend.valid()) << "the connection did not reach " << to.address.to_string();
  if (out.backend) {
    EXPECT_TRUE(out.round_trip("hello"));
  }
  return out;
}

std::vector<UniqueFd> fds(Listening& first) {
  std::vector<UniqueFd> out;
  out.push_back(std::move(first.fd));
  return out;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class WorkerTest : public ::testing::Test {
 protected:
  void TearDown() override { stop(); }

  // A route as the loader builds it, on the test's listening address and backends.
  static RouteConfig route(const std::string& name, const Listening& listen,
                           const std::vector<const Listening*>& backends,
                           uint64_t max_connections = 0) {
    std::vector<std::string> names;
    for (const Listening* b : backends) names.push_back(b->address.to_string());
    RouteConfig out = test::route_config(name, names, listen.address.to_string());
    out.listen = listen.address;
    for (size_t i = 0; i < backends.size(); ++i) out.backends[i].address = backends[i]->address;
    out.max_connections = max_connections;
    return out;
  }

  // A generation as start-up and reload build it (no filter, so nothing is loaded):
  // `previous` shares its routes' connection counts, the stats rows are attached.
  SnapshotPtr snapshot(std::vector<RouteConfig> routes, const SnapshotPtr& previous = nullptr) {
    auto config = std::make_shared<Config>();
    config->routes = std::move(routes);
    uint64_t generation = stats.apply(*config);
    auto built = build_snapshot(config, previous.get());
    EXPECT_TRUE(built.ok());
    if (!built) return nullptr;
    attach_stats(**built, stats, generation);
    return std::move(*built);
  }

  void start(SnapshotPtr first, std::vector<UniqueFd> listeners) {
    route_admission = first->routes[0]->admission;
    route_stats = first->routes[0]->counters.route;
    auto made = Worker::create(0, std::move(first), std::move(listeners), global,
                               [this] { exited = true; }, [this] { ++generations_freed; });
    ASSERT_TRUE(made.ok()) << made.error().message;
    worker = std::move(*made);
    worker->start();
  }

  // The common case: route "web" on `web`, relayed to `echo`.
  void start_web(uint64_t max_connections = 0) {
    start(snapshot({route("web", web, {&echo}, max_connections)}), fds(web));
  }

  // Adopts `next` (fresh listeners as given) and waits until the worker has switched.
  void adopt(SnapshotPtr next, std::vector<UniqueFd> fresh = {}) {
    adopt_with(std::move(next), std::make_shared<std::vector<UniqueFd>>(std::move(fresh)));
  }
  // The same with the listeners as the server passes them (null: all stay in place).
  void adopt_with(SnapshotPtr next, std::shared_ptr<std::vector<UniqueFd>> fresh) {
    auto adopted = std::make_shared<std::atomic<bool>>(false);
    worker->adopt(std::move(next), std::move(fresh), [adopted] { *adopted = true; });
    ASSERT_TRUE(wait_until([&] { return adopted->load(); }));
  }

  // Waits until every command given to the worker before has run on its thread.
  bool sync() {
    auto reached = std::make_shared<std::atomic<bool>>(false);
    worker->reactor().post([reached] { *reached = true; });
    return wait_until([&] { return reached->load(); });
  }

  // Stops the worker (if still running) and joins its thread.
  void stop() {
    if (!worker) return;
    worker->stop_now();
    worker.reset();
  }

  // Nothing open any more, by every count the worker keeps or shares.
  void expect_all_closed() {
    EXPECT_TRUE(wait_until([&] { return worker == nullptr || worker->active_connections() == 0; }));
    EXPECT_TRUE(wait_until([&] { return global.active() == 0; })) << global.active();
    EXPECT_TRUE(wait_until([&] { return route_admission->active() == 0; }))
        << route_admission->active();
    EXPECT_TRUE(wait_until([&] { return route_stats->shard(0).connections_active.load() == 0; }))
        << route_stats->shard(0).connections_active.load();
  }

  // Route "web" started under a cap with room for one: the second client is closed at
  // once, counted under `reason`, reaches no backend and keeps no slot (neither the
  // route's nor the global one); the slot comes back when the first connection ends.
  // Stops the worker and returns the log.
  std::string expect_one_refused(const std::atomic<uint64_t>& reason) {
    Relayed admitted = relay_through(web.address, echo);
    Dialed refused = dial(web.address);
    EXPECT_EQ(refused.error, 0) << strerror(refused.error);
    EXPECT_TRUE(sees_end(refused.fd)) << "a client over the cap is not closed at once";
    EXPECT_TRUE(wait_until([&] { return reason.load() == 1; })) << reason.load();
    EXPECT_FALSE(echo.has_pending()) << "a refused client reached a backend";
    EXPECT_EQ(global.active(), 1u) << "the refused client kept its global slot";
    EXPECT_EQ(route_admission->active(), 1u) << "the refused client kept its route slot";
    EXPECT_EQ(worker->active_connections(), 1u);

    admitted.close_from_client();
    expect_all_closed();
    relay_through(web.address, echo);  // the slot is free again
    stop();
    EXPECT_EQ(route_stats->shard(0).connections_total.load(), 3u) << "refused ones count too";
    return log.text();
  }

  StderrCapture log;  // access lines; read only once the worker has stopped
  StatsTable stats{1, "test"};
  Admission global{0};
  std::shared_ptr<Admission> route_admission;  // of the first snapshot's first route
  std::shared_ptr<RouteStats> route_stats;     // likewise
  std::atomic<bool> exited{false};
  std::atomic<int> generations_freed{0};  // on_generation_freed calls
  Listening web = route_listener();  // route "web"'s socket, until start() takes it
  Listening echo = backend();
  std::unique_ptr<Worker> worker;
};

TEST_F(WorkerTest, RelaysAndCountsBackToZero) {
  start_web();

  // Several at once, then closed in both orders; then one after another.
  std::vector<Relayed> open;
  for (int i = 0; i < 8; ++i) open.push_back(relay_through(web.address, echo));
  EXPECT_TRUE(wait_until([&] { return worker->active_connections() == 8; }));
  EXPECT_EQ(global.active(), 8u);
  EXPECT_EQ(route_admission->active(), 8u);
  for (size_t i = 0; i < open.size(); ++i) {
    if (i % 2 == 0) {
      open[i].close_from_client();
    } else {
      open[i].close_from_backend();
    }
  }
  open.clear();
  expect_all_closed();
  for (int i = 0; i < 20; ++i) {
    relay_through(web.address, echo).close_from_client();
  }
  expect_all_closed();
  EXPECT_EQ(route_stats->shard(0).connections_total.load(), 28u);
  EXPECT_FALSE(exited);
}

TEST_F(WorkerTest, NewConnectionsStartOnTheAdoptedGenerationOldOnesStayOnTheirs) {
  Listening old_backend = backend();
  Listening new_backend = backend();
  SnapshotPtr first = snapshot({route("web", web, {&old_backend})});
  std::weak_ptr<const Snapshot> first_alive = first;
  SnapshotPtr second = snapshot({route("web", web, {&new_backend})}, first);
  std::weak_ptr<const Snapshot> second_alive = second;
  start(std::move(first), fds(web));
  Relayed before = relay_through(web.address, old_backend);

  adopt(std::move(second));
  // The same socket serves on: nothing to reconnect, and the new route's backend answers.
  Relayed after = relay_through(web.address, new_backend);
  EXPECT_FALSE(old_backend.has_pending()) << "a new connection started on the old generation";
  EXPECT_TRUE(before.round_trip("still on the first generation"));
  EXPECT_FALSE(first_alive.expired()) << "let go while one of its connections is open";
  EXPECT_EQ(worker->active_connections(), 2u);
  EXPECT_EQ(route_admission->active(), 2u) << "both generations count against one cap";

  // Its last connection closing lets the old generation go (and its filters with it).
  before.close_from_client();
  EXPECT_TRUE(wait_until([&] { return first_alive.expired(); }));
  EXPECT_FALSE(second_alive.expired());
  EXPECT_TRUE(after.round_trip("on the second generation"));
  EXPECT_EQ(worker->active_connections(), 1u);
  after.close_from_backend();
  expect_all_closed();
}

TEST_F(WorkerTest, AGenerationWithoutConnectionsIsLetGoWhenReplaced) {
  SnapshotPtr first = snapshot({route("web", web, {&echo})});
  std::weak_ptr<const Snapshot> first_alive = first;
  SnapshotPtr second = snapshot({route("web", web, {&echo})}, first);
  start(std::move(first), fds(web));
  relay_through(web.address, echo).close_from_client();
  expect_all_closed();
  EXPECT_TRUE(sync()) << "the closed connection is recycled";

  adopt(std::move(second));
  EXPECT_TRUE(first_alive.expired()) << "kept although no connection runs on it";
  relay_through(web.address, echo);
}

// Many reloads while a connection stays on the first generation: only that one and the
// current one live; the others went at once, and the first goes (and says so, for the
// server to hand the memory back) with its last connection.
TEST_F(WorkerTest, ManyAdoptionsKeepOnlyTheGenerationsInUseAlive) {
  SnapshotPtr current = snapshot({route("web", web, {&echo})});
  std::weak_ptr<const Snapshot> first_alive = current;
  start(current, fds(web));
  Relayed held = relay_through(web.address, echo);
  std::vector<std::weak_ptr<const Snapshot>> between;
  for (int i = 0; i < 20; ++i) {
    if (i > 0) between.push_back(current);
    SnapshotPtr next = snapshot({route("web", web, {&echo})}, current);
    current = next;
    adopt(std::move(next));
  }
  EXPECT_FALSE(first_alive.expired()) << "let go while one of its connections is open";
  for (const auto& generation : between) EXPECT_TRUE(generation.expired()) << "kept for nothing";
  EXPECT_EQ(generations_freed.load(), 0);

  held.close_from_client();
  EXPECT_TRUE(wait_until([&] { return first_alive.expired(); }));
  EXPECT_TRUE(wait_until([&] { return generations_freed.load() == 1; }));
  relay_through(web.address, echo).close_from_client();
  expect_all_closed();
  EXPECT_TRUE(sync());
  EXPECT_EQ(generations_freed.load(), 1) << "a generation without connections is not reported";
}

TEST_F(WorkerTest, AdoptKeepsSocketsOfKeptAddressesAndClosesTheOthers) {
  Listening a = route_listener();
  Listening b = route_listener();
  Listening moved = route_listener();
  Listening backend_a = backend();
  Listening backend_b = backend();
  SnapshotPtr first = snapshot({route("a", a, {&backend_a}), route("b", b, {&backend_b})});
  // Route b first now (its socket changes position), route a on a new address.
  SnapshotPtr second =
      snapshot({route("b", b, {&backend_b}), route("a", moved, {&backend_a})}, first);
  const SocketAddress old_a = a.address;
  std::vector<UniqueFd> listeners;
  listeners.push_back(std::move(a.fd));
  listeners.push_back(std::move(b.fd));
  start(std::move(first), std::move(listeners));
  Relayed held = relay_through(old_a, backend_a);

  std::vector<UniqueFd> fresh(2);
  fresh[1] = std::move(moved.fd);  // only route a's address is new
  adopt(std::move(second), std::move(fresh));
  EXPECT_EQ(dial(old_a).error, ECONNREFUSED) << "the address no longer configured still listens";
  relay_through(moved.address, backend_a);
  relay_through(b.address, backend_b);
  EXPECT_TRUE(held.round_trip("the listener closed, not its connections"));
}

// A reload whose routes all listen where the routes at their places did passes no socket
// list: the worker keeps its listeners without walking them, and serves the new routes.
TEST_F(WorkerTest, AdoptWithoutASocketListKeepsEveryListenerAtItsPlace) {
  Listening a = route_listener();
  Listening b = route_listener();
  Listening backend_a = backend();
  Listening backend_b = backend();
  Listening backend_b2 = backend();
  SnapshotPtr first = snapshot({route("a", a, {&backend_a}), route("b", b, {&backend_b})});
  SnapshotPtr second =
      snapshot({route("a", a, {&backend_a}), route("b", b, {&backend_b2})}, first);
  std::vector<UniqueFd> listeners;
  listeners.push_back(std::move(a.fd));
  listeners.push_back(std::move(b.fd));
  start(std::move(first), std::move(listeners));
  Relayed held = relay_through(b.address, backend_b);

  adopt_with(std::move(second), nullptr);
  relay_through(a.address, backend_a);
  relay_through(b.address, backend_b2);
  EXPECT_FALSE(backend_b.has_pending()) << "a new connection started on the old generation";
  EXPECT_TRUE(held.round_trip("on the first generation"));
}

TEST_F(WorkerTest, DrainClosesListenersLetsConnectionsFinishThenEnds) {
  SnapshotPtr first = snapshot({route("web", web, {&echo})});
  SnapshotPtr second = snapshot({route("web", web, {&echo})}, first);
  start(std::move(first), fds(web));
  Relayed open = relay_through(web.address, echo);

  worker->begin_drain();
  auto adopted = std::make_shared<std::atomic<bool>>(false);  // a reload during the drain
  worker->adopt(std::move(second), std::make_shared<std::vector<UniqueFd>>(),
                [adopted] { *adopted = true; });
  ASSERT_TRUE(sync());
  EXPECT_EQ(dial(web.address).error, ECONNREFUSED) << "still accepting while draining";
  EXPECT_FALSE(exited) << "ended with a connection open";
  EXPECT_TRUE(open.round_trip("while draining"));
  EXPECT_FALSE(*adopted) << "a draining worker has nothing to switch";

  open.close_from_backend();
  EXPECT_TRUE(wait_until([&] { return exited.load(); })) << "did not end once drained";
  worker->join();
  expect_all_closed();
}

TEST_F(WorkerTest, DrainWithoutConnectionsEndsAtOnce) {
  start_web();
  worker->begin_drain();
  EXPECT_TRUE(wait_until([&] { return exited.load(); }));
  worker->join();
  EXPECT_EQ(dial(web.address).error, ECONNREFUSED);
}

TEST_F(WorkerTest, TheGlobalCapRefusesWithCloseLimit) {
  global.set_limit(1);
  start_web();
  std::string text = expect_one_refused(route_stats->shard(0).refused_global_limit);
  EXPECT_EQ(route_stats->shard(0).refused_route_limit.load(), 0u);
  EXPECT_EQ(count_of(text, "close=limit"), 1u) << text;
}

TEST_F(WorkerTest, TheRouteCapRefusesWithCloseLimit) {
  start_web(/*max_connections=*/1);
  std::string text = expect_one_refused(route_stats->shard(0).refused_route_limit);
  EXPECT_EQ(route_stats->shard(0).refused_global_limit.load(), 0u);
  EXPECT_EQ(count_of(text, "close=limit"), 1u) << text;
  EXPECT_NE(text.find("route=web"), std::string::npos) << text;
}

TEST_F(WorkerTest, StopClosesEveryConnection) {
  start_web();
  std::vector<Relayed> open;
  for (int i = 0; i < 3; ++i) open.push_back(relay_through(web.address, echo));

  worker->stop_now();
  for (const Relayed& relayed : open) {
    EXPECT_TRUE(sees_end(relayed.client));
    EXPECT_TRUE(sees_end(relayed.backend));
  }
  EXPECT_TRUE(wait_until([&] { return exited.load(); }));
  worker->join();
  EXPECT_EQ(dial(web.address).error, ECONNREFUSED);
  expect_all_closed();
  worker.reset();
  std::string text = log.text();
  EXPECT_EQ(count_of(text, "close=shutdown"), 3u) << text;
}

}  // namespace
}  // namespace arus
