#include "actors/thread_priority.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__linux__)
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
#else
  (void)nice;
#endif
  return {};
}

}  // namespace ivfstream::actors
