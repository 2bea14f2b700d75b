#include "actors/thread_priority.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ivfstream::actors {

status lower_this_thread_priority(int nice) {
#if defined(__linux__)
  // On Linux nice is per thread: PRIO_PROCESS with a thread id changes that thread only.
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0)
    return fail(errc::unavailable,
                "setpriority(nice=" + std::to_string(nice) + "): " + std::strerror(errno));
  if (nice >= k_background_nice) {
    // SCHED_IDLE (allowed without privileges): the thread runs only on a CPU nothing else wants, and
    // a waking query thread preempts it at once instead of after the wake-up granularity that even a
    // nice-19 thread is granted under CFS/EEVDF.
    sched_param none{};
    none.sched_priority = 0;
    if (::sched_setscheduler(static_cast<pid_t>(tid), SCHED_IDLE, &none) != 0)
      return fail(errc::unavailable, std::string("sched_setscheduler(SCHED_IDLE): ") + std::strerror(errno));
  }
#else
  (void)nice;
#endif
  return {};
}

}  // namespace ivfstream::actors
