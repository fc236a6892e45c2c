// Helpers for filter tests: a temporary directory, compiling C test filters against
// include/arus/filter.h with the system C compiler, and capturing stderr (log lines).
// Single-threaded test use only.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace arus::testing {

// The checkout's root: the nearest folder above the working directory holding
// include/arus/filter.h (tests run from the root or from a build folder inside it).
inline std::filesystem::path source_root() {
  std::filesystem::path dir = std::filesystem::current_path();
  for (;;) {
    if (std::filesystem::exists(dir / "include/arus/filter.h")) return dir;
    if (dir == dir.root_path()) return std::filesystem::current_path();
    dir = dir.parent_path();
  }
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/arus-filter-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Compiles C `source` into `dir`/`name` as a filter ($CC or cc, -std=c99 -shared -fPIC),
// with `defines` added to the command line. Returns "" or the compiler's output.
inline std::string compile_filter(const std::string& dir, const std::string& name,
                                  const std::string& source, const std::string& defines = "") {
  const std::string c_path = dir + "/" + name + ".c";
  const std::string log_path = dir + "/" + name + ".log";
  write_file(c_path, source);
  const char* cc = std::getenv("CC");  // $CC when the environment sets it, else cc
  const std::string command = std::string(cc != nullptr && *cc != '\0' ? cc : "cc") +
                              " -std=c99 -Wall -Wextra -pedantic -fPIC -shared -I'" +
                              (source_root() / "include").string() + "' " + defines + " '" +
                              c_path + "' -o '" + dir + "/" + name + "' >'" + log_path + "' 2>&1";
  int rc = std::system(command.c_str());
  if (rc == 0) return "";
  std::string output = read_file(log_path);
  return "compile failed (" + command + "): " + (output.empty() ? "no output" : output);
}

// Redirects stderr into a temporary file until text() or destruction.
class StderrCapture {
 public:
  StderrCapture() {
    char pattern[] = "/tmp/arus-stderr-XXXXXX";
    int fd = ::mkstemp(pattern);
    path_ = pattern;
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() {
    restore();
    ::unlink(path_.c_str());
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Everything written to stderr so far; stops capturing.
  std::string text() {
    restore();
    return read_file(path_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

  std::string path_;
  int saved_ = -1;
};

}  // namespace arus::testing
