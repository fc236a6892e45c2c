// UniqueFd: sole owner of one file descriptor; closes it when destroyed.
// Not thread-safe: an fd belongs to one owner at a time, moved between threads explicitly.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace arus {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Gives up ownership without closing; the caller now owns the descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }

  // Closes the current descriptor (errors ignored: nothing useful to do with them on
  // sockets and pipes) and takes ownership of `fd`.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

  // Closes and reports the result of close(2), for files where a late write error matters.
  // Returns 0 or an errno value.
  int close() noexcept {
    if (fd_ < 0) return 0;
    int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_ = -1;
};

}  // namespace arus
