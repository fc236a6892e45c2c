#include "arus/core/thread_priority.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace arus {

int lower_this_thread_priority() noexcept {
  // On Linux, PRIO_PROCESS with a thread id sets that thread's nice value only.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0) return errno;
  return 0;
}

}  // namespace arus
