// ThreadSanitizer builds only (tests/CMakeLists.txt links this into every suite when
// IVFSTREAM_SANITIZE contains "thread"): C11 <threads.h> functions re-implemented on pthreads.
//
// Why: librdkafka 2.0.2 starts its threads with glibc's thrd_create and locks with mtx_*/cnd_*.
// glibc (>= 2.34) implements those by calling its internal pthread functions directly, so the
// sanitizer's pthread interceptors never see them, and neither gcc 12's nor clang 14's TSan
// runtime intercepts the C11 names. A thread started that way has no TSan thread state: its first
// malloc crashes the process (SEGV in SizeClassAllocator64LocalCache::Allocate, seen in every suite
// that starts a Kafka client), and its locks are invisible. Defining the C11 names here makes
// librdkafka's references bind to these (the executable's definitions come first in symbol lookup),
// and they call the intercepted pthread functions. Not a suppression: TSan then checks more, not
// less. glibc's mtx_t / cnd_t / thrd_t have the size and layout of pthread_mutex_t /
// pthread_cond_t / pthread_t (glibc's own C11 functions cast them the same way).
#include <cerrno>
#include <cstdint>

#include <pthread.h>
#include <threads.h>

namespace {

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) && sizeof(cnd_t) == sizeof(pthread_cond_t) &&
                  sizeof(thrd_t) == sizeof(pthread_t),
              "glibc's C11 thread types are expected to be its pthread types");

struct c11_start {
  thrd_start_t func;
  void* arg;
};

void* run_c11_thread(void* p) {
  const c11_start start = *static_cast<c11_start*>(p);
  delete static_cast<c11_start*>(p);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start.func(start.arg)));
}

int to_c11(int pthread_rc) {
  if (pthread_rc == 0) return thrd_success;
  if (pthread_rc == ETIMEDOUT) return thrd_timedout;
  if (pthread_rc == EBUSY) return thrd_busy;
  if (pthread_rc == ENOMEM || pthread_rc == EAGAIN) return thrd_nomem;
  return thrd_error;
}

pthread_mutex_t* as_pthread(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* as_pthread(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new c11_start{func, arg};
  const int rc = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, run_c11_thread, start);
  if (rc != 0) delete start;
  return to_c11(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  const int rc = pthread_join(static_cast<pthread_t>(thr), &value);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
  return to_c11(rc);
}

int thrd_detach(thrd_t thr) { return to_c11(pthread_detach(static_cast<pthread_t>(thr))); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(as_pthread(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return to_c11(rc);
}
int mtx_lock(mtx_t* m) { return to_c11(pthread_mutex_lock(as_pthread(m))); }
int mtx_trylock(mtx_t* m) { return to_c11(pthread_mutex_trylock(as_pthread(m))); }
int mtx_unlock(mtx_t* m) { return to_c11(pthread_mutex_unlock(as_pthread(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(as_pthread(m)); }

int cnd_init(cnd_t* c) { return to_c11(pthread_cond_init(as_pthread(c), nullptr)); }
int cnd_signal(cnd_t* c) { return to_c11(pthread_cond_signal(as_pthread(c))); }
int cnd_broadcast(cnd_t* c) { return to_c11(pthread_cond_broadcast(as_pthread(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return to_c11(pthread_cond_wait(as_pthread(c), as_pthread(m))); }
int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* until) {
  return to_c11(pthread_cond_timedwait(as_pthread(c), as_pthread(m), until));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(as_pthread(c)); }

}  // extern "C"
