// Unit tests for PipePool: reuse, the cap, discard, resizing, flags, and running out of
// file descriptors.
#include "arus/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace arus {
namespace {

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// The lowest descriptor number the next open() would get.
int lowest_free_fd() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

// Whether F_SETPIPE_SZ may go above /proc/sys/fs/pipe-max-size (CAP_SYS_RESOURCE);
// root in a container often lacks it.
bool may_exceed_pipe_max() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> 24) & 1;  // CAP_SYS_RESOURCE
    }
  }
  return false;
}

long pipe_max_size() {
  std::ifstream file("/proc/sys/fs/pipe-max-size");
  long value = 0;
  file >> value;
  return value;
}

TEST(PipePool, AcquireMakesAnEmptyNonBlockingCloexecPipe) {
  PipePool pool(4, 0);
  Pipe pipe = pool.acquire();
  ASSERT_TRUE(pipe.valid());
  EXPECT_EQ(pool.created(), 1u);
  EXPECT_EQ(pool.reused(), 0u);
  EXPECT_EQ(pipe.capacity, ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ));
  EXPECT_GT(pipe.capacity, 0);
  for (int fd : {pipe.read_end.get(), pipe.write_end.get()}) {
    ASSERT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);  // fatal: a blocking read would hang
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  }
  char byte;
  EXPECT_EQ(::read(pipe.read_end.get(), &byte, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  // The two ends are one pipe.
  ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1);
  ASSERT_EQ(::read(pipe.read_end.get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
}

TEST(PipePool, ReleasedPipeIsReusedWithoutANewPipe) {
  PipePool pool(4, 0);
  Pipe pipe = pool.acquire();
  const int read_fd = pipe.read_end.get();
  const int write_fd = pipe.write_end.get();
  pool.release(std::move(pipe));
  EXPECT_FALSE(pipe.valid());  // NOLINT(bugprone-use-after-move): the pool took it
  EXPECT_EQ(pool.pooled(), 1u);
  Pipe again = pool.acquire();
  EXPECT_EQ(again.read_end.get(), read_fd);
  EXPECT_EQ(again.write_end.get(), write_fd);
  EXPECT_EQ(pool.created(), 1u);
  EXPECT_EQ(pool.reused(), 1u);
  EXPECT_EQ(pool.pooled(), 0u);
}

TEST(PipePool, ReusedPipeIsStillNonBlocking) {
  PipePool pool(1, 0);
  {
    Pipe pipe = pool.acquire();
    pool.release(std::move(pipe));
  }
  Pipe pipe = pool.acquire();
  ASSERT_EQ(pool.reused(), 1u);
  ASSERT_TRUE(::fcntl(pipe.write_end.get(), F_GETFL) & O_NONBLOCK);
  ASSERT_TRUE(::fcntl(pipe.read_end.get(), F_GETFL) & O_NONBLOCK);
  // Filling it ends in EAGAIN instead of blocking the test.
  std::vector<char> chunk(4096, 'a');
  ssize_t total = 0;
  for (;;) {
    ssize_t n = ::write(pipe.write_end.get(), chunk.data(), chunk.size());
    if (n < 0) break;
    total += n;
    ASSERT_LE(total, pipe.capacity);
  }
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(total, pipe.capacity);
  pool.discard(std::move(pipe));
}

TEST(PipePool, CapIsRespected) {
  PipePool pool(2, 0);
  std::vector<Pipe> pipes;
  for (int i = 0; i < 3; ++i) pipes.push_back(pool.acquire());
  const int third_read = pipes[2].read_end.get();
  const int third_write = pipes[2].write_end.get();
  for (Pipe& p : pipes) pool.release(std::move(p));
  EXPECT_EQ(pool.pooled(), 2u);
  EXPECT_FALSE(fd_is_open(third_read));  // over the cap: closed
  EXPECT_FALSE(fd_is_open(third_write));
  for (int i = 0; i < 3; ++i) pipes[static_cast<size_t>(i)] = pool.acquire();
  EXPECT_EQ(pool.reused(), 2u);
  EXPECT_EQ(pool.created(), 4u);

  PipePool none(0, 0);
  Pipe pipe = none.acquire();
  const int fd = pipe.read_end.get();
  none.release(std::move(pipe));
  EXPECT_EQ(none.pooled(), 0u);
  EXPECT_FALSE(fd_is_open(fd));
}

TEST(PipePool, DiscardedPipeIsClosedNeverPooled) {
  PipePool pool(4, 0);
  Pipe pipe = pool.acquire();
  const int read_fd = pipe.read_end.get();
  const int write_fd = pipe.write_end.get();
  pool.discard(std::move(pipe));
  EXPECT_EQ(pool.pooled(), 0u);
  EXPECT_FALSE(fd_is_open(read_fd));
  EXPECT_FALSE(fd_is_open(write_fd));
}

TEST(PipePool, BytesOfADiscardedPipeNeverReachALaterAcquire) {
  PipePool pool(4, 0);
  Pipe dirty = pool.acquire();
  ASSERT_EQ(::write(dirty.write_end.get(), "secret", 6), 6);
  pool.discard(std::move(dirty));
  // Also an empty pipe in the pool, so acquire has something to hand out.
  Pipe clean = pool.acquire();
  pool.release(std::move(clean));
  for (int i = 0; i < 2; ++i) {
    Pipe next = pool.acquire();
    ASSERT_TRUE(next.valid());
    ASSERT_TRUE(::fcntl(next.read_end.get(), F_GETFL) & O_NONBLOCK);  // else read would hang
    char buf[16];
    EXPECT_EQ(::read(next.read_end.get(), buf, sizeof buf), -1);
    EXPECT_EQ(errno, EAGAIN);
  }
}

TEST(PipePool, InvalidPipesAreIgnored) {
  PipePool pool(4, 0);
  pool.release(Pipe{});
  pool.discard(Pipe{});
  EXPECT_EQ(pool.pooled(), 0u);
  Pipe half = pool.acquire();
  half.write_end.reset();  // not a usable pipe any more
  pool.release(std::move(half));
  EXPECT_EQ(pool.pooled(), 0u);
}

TEST(PipePool, DestructorClosesPooledPipes) {
  int read_fd, write_fd;
  {
    PipePool pool(4, 0);
    Pipe pipe = pool.acquire();
    read_fd = pipe.read_end.get();
    write_fd = pipe.write_end.get();
    pool.release(std::move(pipe));
    ASSERT_TRUE(fd_is_open(read_fd));
  }
  EXPECT_FALSE(fd_is_open(read_fd));
  EXPECT_FALSE(fd_is_open(write_fd));
}

TEST(PipePool, ResizeIsHonoured) {
  constexpr int kRequested = 256 * 1024;  // under the default pipe-max-size (1 MiB)
  PipePool pool(4, kRequested);
  Pipe pipe = pool.acquire();
  ASSERT_TRUE(pipe.valid());
  EXPECT_EQ(pipe.capacity, ::fcntl(pipe.read_end.get(), F_GETPIPE_SZ));
  if (kRequested <= pipe_max_size() || may_exceed_pipe_max()) {
    EXPECT_GE(pipe.capacity, kRequested);
  }
  // And a reused pipe keeps its size.
  pool.release(std::move(pipe));
  Pipe again = pool.acquire();
  EXPECT_EQ(again.capacity, ::fcntl(again.read_end.get(), F_GETPIPE_SZ));
}

TEST(PipePool, RefusedResizeKeepsTheDefaultSize) {
  // Above pipe-max-size only CAP_SYS_RESOURCE may resize; otherwise the pipe is still
  // handed out, at the size the kernel gave it.
  const long requested = std::max(pipe_max_size() * 2, 2L * 1024 * 1024);
  PipePool pool(4, static_cast<int>(requested));
  Pipe pipe = pool.acquire();
  ASSERT_TRUE(pipe.valid());
  EXPECT_EQ(pipe.capacity, ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ));
  if (may_exceed_pipe_max()) {
    EXPECT_GE(pipe.capacity, requested);
  } else {
    EXPECT_GT(pipe.capacity, 0);
    EXPECT_LT(pipe.capacity, requested);
  }
}

TEST(PipePool, SlotsAreTheCapacityInPages) {
  PipePool pool(4, 64 * 1024);
  Pipe pipe = pool.acquire();
  ASSERT_TRUE(pipe.valid());
  EXPECT_EQ(pipe.slots, pipe.capacity / ::sysconf(_SC_PAGESIZE));
  EXPECT_GE(pipe.slots, 1);
}

TEST(PipePool, LargePipesUpToTheirCapThenNormalOnes) {
  constexpr int kNormal = 64 * 1024;
  constexpr int kLarge = 256 * 1024;  // under the default pipe-max-size (1 MiB)
  if (kLarge > pipe_max_size() && !may_exceed_pipe_max()) GTEST_SKIP() << "pipe-max-size too low";
  PipePool pool(1, kNormal, nullptr, LargePipes{.size_bytes = kLarge, .max_alive = 2});
  Pipe first = pool.acquire();
  Pipe second = pool.acquire();
  Pipe third = pool.acquire();
  ASSERT_TRUE(first.valid() && second.valid() && third.valid());
  // A user over its pipe quota gets smaller pipes; then none is counted as large.
  if (!first.large) GTEST_SKIP() << "F_SETPIPE_SZ refused (pipe-user-pages-soft used up)";
  EXPECT_GE(first.capacity, kLarge);
  EXPECT_TRUE(second.large);
  EXPECT_FALSE(third.large) << "at most two large pipes alive";
  EXPECT_LT(third.capacity, kLarge);
  EXPECT_EQ(pool.large_alive(), 2u);

  pool.release(std::move(first));  // pooled: still alive, still counted
  EXPECT_EQ(pool.large_alive(), 2u);
  pool.discard(std::move(second));  // closed: room for a new large one
  EXPECT_EQ(pool.large_alive(), 1u);
  pool.release(std::move(third));  // the pool (cap 1) is full: closed, was not large
  EXPECT_EQ(pool.large_alive(), 1u);
  Pipe reused = pool.acquire();  // the pooled large pipe comes back as it was
  EXPECT_TRUE(reused.large);
  Pipe fresh = pool.acquire();
  EXPECT_TRUE(fresh.large) << "the discarded one's place is free again";
  EXPECT_EQ(pool.large_alive(), 2u);
}

TEST(PipePool, AcquireFailsGracefullyWhenDescriptorsRunOut) {
  PipePool pool(4, 0);
  Pipe pooled = pool.acquire();
  ASSERT_TRUE(pooled.valid());
  pool.release(std::move(pooled));

  rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  const int lowest = lowest_free_fd();
  ASSERT_GE(lowest, 0);
  // No assertion may run while the limit is low: failing one may need a descriptor.
  Pipe none, one_free, from_pool;
  int none_errno = 0, one_free_errno = 0;
  int lowest_after = -1;
  {
    rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest);  // every descriptor number in use
    bool lowered = ::setrlimit(RLIMIT_NOFILE, &tight) == 0;
    if (lowered) {
      from_pool = pool.acquire();  // a pooled pipe needs no new descriptor
      none = pool.acquire();
      none_errno = errno;
      tight.rlim_cur = static_cast<rlim_t>(lowest) + 1;  // one left; a pipe needs two
      ::setrlimit(RLIMIT_NOFILE, &tight);
      one_free = pool.acquire();
      one_free_errno = errno;
      ::setrlimit(RLIMIT_NOFILE, &saved);
      lowest_after = lowest_free_fd();
    }
    ASSERT_TRUE(lowered) << std::strerror(errno);
  }
  EXPECT_TRUE(from_pool.valid());
  EXPECT_FALSE(none.valid());
  EXPECT_EQ(none_errno, EMFILE);
  EXPECT_FALSE(one_free.valid());
  EXPECT_EQ(one_free_errno, EMFILE);
  EXPECT_EQ(lowest_after, lowest);  // nothing leaked by the failed attempts
  EXPECT_EQ(pool.created(), 1u);
  // With the limit restored, pipes come again.
  Pipe later = pool.acquire();
  EXPECT_TRUE(later.valid());
}

}  // namespace
}  // namespace arus
