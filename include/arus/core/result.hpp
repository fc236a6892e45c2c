// Result<T>: a value or an Error saying what failed and where. Used at the boundaries
// (config, plugin load, bind, reload); the hot path reports with return codes instead.
// Shaped like std::expected so it can become an alias once we build as C++23.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace arus {

struct Error {
  std::string message;  // complete, human-readable: "proxy.conf:14: [route:web] backend: ..."
};

// Builds an Error from an errno value: "<what>: <strerror(errnum)>".
Error posix_error(std::string what, int errnum);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace arus
