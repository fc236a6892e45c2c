// The calling thread's CPU priority. Stateless, thread-safe.
#pragma once

namespace arus {

// The lowest priority (nice 19) for the calling thread alone, and for the threads it
// starts from now on. For good: without CAP_SYS_NICE a thread cannot raise it again.
// Returns 0, or the errno of setpriority(2).
int lower_this_thread_priority() noexcept;

}  // namespace arus
