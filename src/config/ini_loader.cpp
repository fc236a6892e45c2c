// proxy.conf -> Config: drives inih over the text with our own line reader so every
// error names file, line, section and key. One Loader per parse; no shared state.
#include "arus/config/ini_loader.hpp"

#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <optional>
#include <unordered_map>

#include "arus/config/backend_addresses.hpp"
#include "arus/config/config_error.hpp"
#include "arus/config/proxy_protocol_config.hpp"
#include "arus/config/limits_config.hpp"
#include "arus/config/section_reuse.hpp"
#include "arus/config/value_parsers.hpp"
#include "arus/core/unique_fd.hpp"

namespace arus {
namespace {

constexpr uint64_t kMaxTimeoutMs = 604800000;  // 7 days
constexpr std::string_view kDefaultPluginDir = "c_plugins";

constexpr std::string_view kGlobalKeys[] = {"workers",         "log_level",  "access_log",
                                            "stats_listen",    "plugin_dir", "max_connections",
                                            "grace_period_ms", "user",       "group",
                                            "admin_listen",    "watch_config"};
constexpr std::string_view kRouteKeys[] = {"listen",          "backend",     "balance",
                                           "filter",          "filter_args", "connect_timeout_ms",
                                           "idle_timeout_ms", "retries",     "max_connections",
                                           "accept_proxy", "proxy_header_timeout_ms", "send_proxy",
                                           "health_check", "health_check_send",
                                           "health_check_expect", "health_check_path",
                                           "health_check_interval_ms", "health_check_timeout_ms",
                                           "health_check_rise", "health_check_fall",
                                           // LimitsConfig (set_limits_key)
                                           "queue_timeout_ms", "max_connections_per_source",
                                           "rate_limit",       "rate_limit_per_source",
                                           "dns_refresh_ms"};

// One route of the file: read here (its key_lines, the first line of each key, refuse
// repeats and place later checks), or the running configuration's, its section written
// as this one (section_reuse.hpp): its keys were not read again. Each in the object the
// configuration will hold, so thousands of routes are neither moved nor copied.
struct RouteState {
  std::shared_ptr<RouteConfig> parsed;
  std::shared_ptr<const RouteConfig> taken;

  const RouteConfig& route() const { return taken ? *taken : *parsed; }
};

template <class T, class U>
Result<void> assign(Result<T> parsed, U& out) {
  if (!parsed) return Error{parsed.error().message};
  out = static_cast<U>(parsed.value());
  return {};
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The default lookup: resolve_all() on the calling thread, whoever asks.
Result<std::vector<SocketAddress>> resolve_anywhere(const HostPort& host_port,
                                                    const std::string& /*where*/) {
  return resolve_all(host_port);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Where inih ends a "[section]" header: at ']' or at an inline ';' comment (one that
// follows whitespace). Mirrors inih's find_chars_or_comment so we agree on headers.
size_t find_header_end(std::string_view line) {
  bool was_space = false;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == ']' || (was_space && line[i] == ';')) return i;
    was_space = is_space(line[i]);
  }
  return line.size();
}

class Loader {
 public:
  Loader(std::string_view text, const std::string& path, const NameLookup& lookup,
         const Config* running)
      : text_(text), path_(path), lookup_(lookup), running_sections_(running, path, text) {}

  Result<Config> run() {
    // Room for every route up front: thousands of RouteStates are not moved while growing.
    size_t sections = 0;
    for (size_t at = text_.find("[route:"); at != std::string_view::npos;
         at = text_.find("[route:", at + 1)) {
      ++sections;
    }
    routes_.reserve(sections);
    route_index_.reserve(sections);
    int rc = ini_parse_stream(&Loader::read_line, this, &Loader::handle_key, this);
    rc = file_line(rc);
    if (rc > 0 && (!error_ || rc < error_line_)) {
      return config_error(path_, rc, "", "", "syntax error: " + syntax_reason(rc));
    }
    if (rc < 0) return Error{path_ + ": cannot parse: out of memory"};
    if (error_) return std::move(*error_);
    if (Result<void> done = finish(); !done) return std::move(done).error();
    config_.path = path_;
    return std::move(config_);  // its source set by the caller, who holds the text
  }

 private:
  // inih's fgets-style reader. We see every raw line before inih does, which lets us
  // count lines, refuse lines inih would split, and record section headers (inih never
  // reports a section without keys).
  static char* read_line(char* buffer, int size, void* self) {
    return static_cast<Loader*>(self)->next_line(buffer, static_cast<size_t>(size));
  }

  static int handle_key(void* self, const char* /*section*/, const char* name, const char* value) {
    // Our own section state is used instead of inih's `section`, which inih truncates.
    static_cast<Loader*>(self)->on_key(name, value != nullptr ? value : "");
    return 1;  // errors are kept by us; a 0 here would only blur inih's syntax errors
  }

  char* next_line(char* buffer, size_t size) {
    if (error_ || pos_ >= text_.size()) return nullptr;
    const size_t line_start = pos_;
    size_t newline = text_.find('\n', pos_);
    size_t end = newline == std::string_view::npos ? text_.size() : newline;
    std::string_view line = text_.substr(pos_, end - pos_);
    pos_ = newline == std::string_view::npos ? text_.size() : newline + 1;
    ++line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_ == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);

    // inih needs room for "\r\n\0" after the longest line.
    size_t limit = size > 3 ? size - 3 : 0;
    if (line.size() > limit) {
      fail(line_, "", "",
           "line too long (" + std::to_string(line.size()) + " characters, at most " +
               std::to_string(limit) + ")");
      return nullptr;
    }
    if (line.find('\0') != std::string_view::npos) {
      fail(line_, "", "", "line contains a NUL byte");
      return nullptr;
    }
    // Leading whitespace is dropped so indented keys are plain keys: otherwise inih would
    // take an indented line as a continuation of the previous value.
    indented_ = !line.empty() && is_space(line.front());
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    std::string_view trimmed = trim(line);
    if (!trimmed.empty() && trimmed.front() == '[') {
      size_t close = find_header_end(trimmed);
      if (close < trimmed.size() && trimmed[close] == ']') {
        std::string_view after = trim(trimmed.substr(close + 1));
        if (!after.empty() && after.front() != ';' && after.front() != '#') {
          fail(line_, "", "", "syntax error: unexpected text after ']'");
          return nullptr;
        }
        on_section(trimmed.substr(1, close - 1), line_start);
        if (error_) return nullptr;
      }
    }
    std::copy(line.begin(), line.end(), buffer);
    buffer[line.size()] = '\n';
    buffer[line.size() + 1] = '\0';
    return buffer;
  }

  // `name` is a view of text_ (route_index_ keeps it); `header_start` where its line begins.
  void on_section(std::string_view name, size_t header_start) {
    std::string display = "[" + std::string(name) + "]";
    if (name == "global") {
      if (global_line_ != 0) {
        fail(line_, display, "",
             "duplicate section (first at line " + std::to_string(global_line_) + ")");
        return;
      }
      global_line_ = line_;
      kind_ = Kind::kGlobal;
      running_sections_.global_section(section_text(header_start), header_start);
    } else if (name.substr(0, 6) == "route:") {
      std::string_view route = name.substr(6);
      if (route.empty()) {
        fail(line_, display, "", "route name is empty (expected [route:NAME])");
        return;
      }
      if (auto other = route_index_.find(route); other != route_index_.end()) {
        fail(line_, display, "",
             "duplicate route name (first at line " +
                 std::to_string(routes_[other->second].route().line) + ")");
        return;
      }
      route_index_.emplace(route, routes_.size());
      RouteState& state = routes_.emplace_back();
      if (!take_over(state, route, header_start)) {
        state.parsed = std::make_shared<RouteConfig>();
        state.parsed->name = std::string(route);
        state.parsed->line = line_;
      }
      kind_ = Kind::kRoute;
    } else {
      fail(line_, display, "", "unknown section (expected [global] or [route:NAME])");
      return;
    }
    section_ = std::move(display);
  }

  // This header's section, to the next header.
  std::string_view section_text(size_t header_start) const {
    return text_.substr(header_start, next_section_start(text_, pos_) - header_start);
  }

  // A route section written as the running one's is not read: its lines after the header
  // are skipped, inih sees the header alone (file_line() maps inih's count back).
  bool take_over(RouteState& state, std::string_view name, size_t header_start) {
    std::string_view section = section_text(header_start);
    state.taken =
        running_sections_.take_over(routes_.size() - 1, name, section, header_start, line_);
    if (!state.taken) return false;
    const size_t end = header_start + section.size();
    int body = 0;
    for (size_t at = pos_; at < end; ++body) {
      size_t newline = text_.find('\n', at);
      at = newline == std::string_view::npos || newline >= end ? end : newline + 1;
    }
    pos_ = end;
    skipped_.push_back({line_ - skipped_lines_, skipped_lines_ + body});
    skipped_lines_ += body;
    line_ += body;
    return true;
  }

  // inih's line number `inih_line` as a line of the file: inih did not count the lines of
  // the sections taken over before it.
  int file_line(int inih_line) const {
    for (auto it = skipped_.rbegin(); it != skipped_.rend(); ++it) {
      if (it->header_line < inih_line) return inih_line + it->skipped_through;
    }
    return inih_line;
  }

  void on_key(std::string_view key, std::string_view value) {
    if (error_) return;
    if (kind_ == Kind::kNone) {
      fail(line_, "", key, "key outside any section (expected after [global] or [route:NAME])");
      return;
    }
    bool global = kind_ == Kind::kGlobal;
    auto known = [key](const auto& keys) {
      return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
    };
    if (!(global ? known(kGlobalKeys) : known(kRouteKeys))) {
      fail(line_, section_, key,
           indented_ ? "unknown key (an indented line does not continue the previous value)"
                     : "unknown key");
      return;
    }
    KeyLines& lines = global ? global_keys_ : routes_.back().parsed->key_lines;
    if (auto it = lines.find(key); it != lines.end() && key != "backend") {
      fail(line_, section_, key, "given twice (first at line " + std::to_string(it->second) + ")");
      return;
    }
    lines.emplace(std::string(key), line_);
    Result<void> applied = global ? set_global(key, value) : set_route(key, value);
    if (!applied) fail(line_, section_, key, applied.error().message);
  }

  Result<void> set_global(std::string_view key, std::string_view value) {
    GlobalConfig& g = config_.global;
    if (key == "workers") return assign(parse_uint(value, 0, 1024), g.workers);
    if (key == "log_level") return assign(parse_log_level(value), g.log_level);
    if (key == "access_log") return assign(parse_bool(value), g.access_log);
    if (key == "max_connections") return assign(parse_uint(value, 1, 10000000), g.max_connections);
    if (key == "grace_period_ms") {
      return assign(parse_uint(value, 0, kMaxTimeoutMs), g.grace_period_ms);
    }
    if (key == "user" || key == "group") {
      (key == "user" ? g.user : g.group) = std::string(value);  // looked up by main at start
      return {};
    }
    if (key == "stats_listen") {
      g.stats_listen_name = std::string(value);
      return assign(parse_stats_listen(value, lookup_for(key)), g.stats_listen);
    }
    if (key == "admin_listen") return parse_admin_listen(value, path_, lookup_for(key), g.admin);
    if (key == "watch_config") return assign(parse_bool(value), g.admin.watch_config);
    // plugin_dir: joined with the config's folder once the whole file is read.
    if (value.empty()) return Error{"empty path"};
    plugin_dir_ = std::string(value);
    return {};
  }

  Result<void> set_route(std::string_view key, std::string_view value) {
    RouteConfig& r = *routes_.back().parsed;
    if (key == "listen") {
      r.listen_name = std::string(value);
      return assign(parse_address(value, lookup_for(key)), r.listen);
    }
    if (key == "backend") return add_backend(r, value);
    if (key == "balance") return assign(parse_balance(value), r.balance);
    if (key == "filter") {
      if (!value.empty()) {
        if (Result<void> name = check_plugin_file_name(value); !name) return name;
      }
      r.filter = std::string(value);
      return {};
    }
    if (key == "filter_args") {
      r.filter_args = std::string(value);
      return {};
    }
    if (key == "connect_timeout_ms") {
      return assign(parse_uint(value, 1, kMaxTimeoutMs), r.connect_timeout_ms);
    }
    if (key == "idle_timeout_ms") {
      return assign(parse_uint(value, 0, kMaxTimeoutMs), r.idle_timeout_ms);
    }
    if (key == "retries") return assign(parse_uint(value, 0, 100), r.retries);
    if (is_proxy_protocol_key(key)) return set_proxy_protocol_key(r.proxy_protocol, key, value);
    if (is_health_check_key(key)) return set_health_check_key(r.health_check, key, value);
    if (key == "dns_refresh_ms") return parse_dns_refresh_ms(value, r.dns);
    if (key == "max_connections") return assign(parse_uint(value, 0, 10000000), r.max_connections);
    return set_limits_key(r.limits, key, value);  // the last known keys: LimitsConfig's
  }

  Result<void> add_backend(RouteConfig& route, std::string_view value) {
    Result<BackendSpec> spec = parse_backend(value, lookup_all_for("backend"));
    if (!spec) return Error{spec.error().message};
    // The name is the metrics label: two backends with one name would share a series.
    for (const BackendConfig& other : route.backends) {
      if (other.name == spec->name) {
        return Error{other.name + " listed twice (first at line " + std::to_string(other.line) +
                     ")"};
      }
    }
    // A name gives one backend per address, each a copy of the line.
    for (const SocketAddress& address : spec->addresses) {
      BackendConfig backend;
      backend.name = spec->name;
      backend.address = address;
      backend.weight = spec->weight;
      backend.max_connections = spec->max_connections;
      backend.line = line_;
      backend.by_name = spec->by_name;
      route.backends.push_back(std::move(backend));
    }
    return {};
  }

  // The caller's lookup, told which line and key ask (the prefix fail() would write).
  AddressesLookup lookup_all_for(std::string_view key) const {
    std::string where = config_error(path_, line_, section_, key, "").message;
    return [this, where = std::move(where)](const HostPort& host_port) {
      return lookup_(host_port, where);
    };
  }

  // The same where one address is wanted (listen, stats_listen): the first answer.
  AddressLookup lookup_for(std::string_view key) const {
    return [all = lookup_all_for(key)](const HostPort& host_port) -> Result<SocketAddress> {
      Result<std::vector<SocketAddress>> addresses = all(host_port);
      if (!addresses) return std::move(addresses).error();
      if (addresses->empty()) return Error{"cannot resolve '" + host_port.host + "': no address"};
      return addresses->front();
    };
  }

  // Checks that need the whole file: run in route order once reading succeeded.
  Result<void> finish() {
    GlobalConfig& g = config_.global;
    g.plugin_dir = resolve_relative_path(path_, plugin_dir_);
    if (!g.group.empty() && g.user.empty()) {
      // Without a user the proxy switches nothing: the group would be silently ignored.
      return make_error(global_keys_.at("group"), "[global]", "group",
                        "set without 'user' (the group applies only when switching to a user)");
    }
    if (!g.admin.address.empty() && g.admin.address == g.stats_listen) {
      return make_error(global_keys_.at("admin_listen"), "[global]", "admin_listen",
                        "same address as stats_listen (the stats listener never serves the "
                        "admin API)");
    }
    if (routes_.empty()) return no_routes_error();
    // Routes by listen address: each is checked against those before it, in one pass.
    std::unordered_map<SocketAddress, size_t, SocketAddressHash> listening;
    listening.reserve(routes_.size());
    for (size_t i = 0; i < routes_.size(); ++i) {
      const RouteConfig& r = routes_[i].route();
      // Made only for a message: thousands of routes pass without one.
      auto where = [&r] { return "[route:" + r.name + "]"; };
      // A route taken over passed these checks of its own section when it was loaded;
      // those across routes and [global] below see every route.
      if (!routes_[i].taken) {
        if (auto local = check_route(r)) return std::move(*local);
      }
      if (auto [first, added] = listening.emplace(r.listen, i); !added) {
        const RouteConfig& other = routes_[first->second].route();
        return make_error(r.line, where(), "",
                          "listen address " + r.listen_name + " is already used by [route:" +
                              other.name + "] (line " + std::to_string(other.line) + ")");
      }
      if (!g.stats_listen.empty() && g.stats_listen == r.listen) {
        return make_error(r.line, where(), "",
                          "listen address " + r.listen_name + " is also the stats_listen address");
      }
      if (!g.admin.address.empty() && g.admin.address == r.listen) {
        return make_error(r.line, where(), "",
                          "listen address " + r.listen_name + " is also the admin_listen address");
      }
    }
    config_.routes.reserve(routes_.size());
    for (RouteState& state : routes_) {
      config_.routes.push_shared(state.taken ? std::move(state.taken) : std::move(state.parsed));
    }
    g.line = global_line_;
    g.key_lines = std::move(global_keys_);
    return {};
  }

  // The checks of one route that need its whole section read.
  std::optional<Error> check_route(const RouteConfig& r) const {
    const KeyLines& lines = r.key_lines;
    auto where = [&r] { return "[route:" + r.name + "]"; };
    if (r.listen.empty()) return make_error(r.line, where(), "", "route has no 'listen'");
    if (r.backends.empty()) return make_error(r.line, where(), "", "route has no 'backend'");
    if (r.filter.empty() && !r.filter_args.empty()) {
      return make_error(lines.at("filter_args"), where(), "filter_args", "set without 'filter'");
    }
    if (auto problem = validate_health_check(r.health_check, lines)) {
      auto at = lines.find(problem->key);
      return make_error(at != lines.end() ? at->second : r.line, where(), problem->key,
                        problem->reason);
    }
    return std::nullopt;
  }

  // A file without routes would serve nothing: at a reload, applying it would close every
  // listener. It is most often a file caught half-written (an in-place rewrite, `: > file`),
  // so the message says whether it was empty, else points at its last line, where reading
  // stopped without having met a route.
  Error no_routes_error() const {
    if (text_.empty()) {
      return make_error(1, "", "",
                        "the file is empty: a configuration needs at least one [route:NAME] "
                        "section");
    }
    return make_error(std::max(line_, 1), "", "",
                      "no [route:NAME] section up to the end of the file: a configuration needs "
                      "at least one route");
  }

  Error make_error(int line, std::string_view section, std::string_view key,
                   const std::string& reason) const {
    return config_error(path_, line, section, key, reason);
  }

  void fail(int line, std::string_view section, std::string_view key, const std::string& reason) {
    if (error_) return;
    error_ = make_error(line, section, key, reason);
    error_line_ = line;
  }

  // inih reports only a line number; say what is wrong with that line.
  std::string syntax_reason(int line_number) const {
    std::string_view rest = text_;
    for (int i = 1; i < line_number && !rest.empty(); ++i) {
      size_t newline = rest.find('\n');
      rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    }
    std::string_view line = rest.substr(0, rest.find('\n'));
    std::string_view trimmed = trim(line);
    if (!trimmed.empty() && trimmed.front() == '[') return "section header without closing ']'";
    if (!line.empty() && is_space(line.front())) {
      return "expected 'key = value' (continuation lines are not supported)";
    }
    return "expected 'key = value'";
  }

  enum class Kind { kNone, kGlobal, kRoute };

  std::string_view text_;
  const std::string& path_;
  const NameLookup& lookup_;
  size_t pos_ = 0;              // next unread byte of text_
  int line_ = 0;                // lines handed to inih so far: the handler runs for this one
  bool indented_ = false;       // line_ began with whitespace
  std::optional<Error> error_;  // the first error, in file order
  int error_line_ = 0;

  Kind kind_ = Kind::kNone;
  std::string section_;  // "[global]" or "[route:NAME]" as written
  int global_line_ = 0;
  KeyLines global_keys_;
  std::string plugin_dir_{kDefaultPluginDir};
  std::vector<RouteState> routes_;
  std::unordered_map<std::string_view, size_t> route_index_;  // routes_ by name
  RunningSections running_sections_;
  struct Skipped {
    int header_line;      // inih's number of the header of a section taken over
    int skipped_through;  // lines inih did not see up to the end of that section
  };
  std::vector<Skipped> skipped_;
  int skipped_lines_ = 0;
  Config config_;
};

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& path,
                            const NameLookup& lookup, const Config* running) {
  Result<Config> config = Loader(text, path, lookup, running).run();
  if (config) config->source = std::string(text);
  return config;
}

Result<Config> parse_config(std::string_view text, const std::string& path,
                            const NameLookup& lookup) {
  return parse_config(text, path, lookup, nullptr);
}

Result<Config> parse_config(std::string_view text, const std::string& path) {
  return parse_config(text, path, resolve_anywhere);
}

Result<Config> load_config_file(const std::string& path) {
  return load_config_file(path, resolve_anywhere);
}

Result<Config> load_config_file(const std::string& path, const NameLookup& lookup) {
  return load_config_file(path, lookup, nullptr);
}

Result<Config> load_config_file(const std::string& path, const NameLookup& lookup,
                                const Config* running) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return posix_error(path + ": cannot read", errno);
  std::string text;
  // Room for the whole file at once (thousands of routes: hundreds of KiB, read into one
  // allocation instead of growing by chunks); a file that grows meanwhile still reads whole.
  struct stat info;
  if (::fstat(fd.get(), &info) == 0 && info.st_size > 0) {
    text.reserve(static_cast<size_t>(info.st_size) + 1);
  }
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return posix_error(path + ": cannot read", errno);
    }
    text.append(chunk, static_cast<size_t>(n));
  }
  Result<Config> config = Loader(text, path, lookup, running).run();
  if (config) config->source = std::move(text);  // the loader is done with it
  return config;
}

}  // namespace arus
