// Linked into certswap in ThreadSanitizer builds only (CERTSWAP_SANITIZE=thread).
//
// GCC 12's TSan intercepts pthread_create but not C11 thrd_create, and glibc's
// thrd_create starts the thread without passing through the intercepted symbol.
// librdkafka starts every thread with thrd_create, so TSan never sets those
// threads up and crashes in them at their first allocation. Defining
// thrd_create here interposes glibc's (the executable comes first in symbol
// lookup) and sends librdkafka's threads through the intercepted pthread_create.
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <memory>

namespace {

struct Start {
  thrd_start_t function;
  void* argument;
};

void* run(void* p) {
  const std::unique_ptr<Start> start(static_cast<Start*>(p));
  // glibc's thrd_join turns the thread's void* result back into the int.
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start->function(start->argument)));
}

}  // namespace

extern "C" int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto start = std::make_unique<Start>(Start{function, argument});
  const int rc = pthread_create(thread, nullptr, run, start.get());
  if (rc != 0) return rc == ENOMEM ? thrd_nomem : thrd_error;
  start.release();  // run() owns it now
  return thrd_success;
}

// Their join and detach must reach TSan the same way, or it reports the threads as leaked.
extern "C" int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  if (pthread_join(thread, &value) != 0) return thrd_error;
  if (result) *result = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
  return thrd_success;
}

extern "C" int thrd_detach(thrd_t thread) {
  return pthread_detach(thread) == 0 ? thrd_success : thrd_error;
}
