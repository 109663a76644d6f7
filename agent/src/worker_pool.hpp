#pragma once
// Up to N threads running queued jobs, first in first out: the sidecar's
// checks of many targets at once, and the HTTP endpoint's requests. Threads
// start when jobs arrive and end when the queue is empty, so an idle sidecar
// keeps none. Destroying the pool drops the jobs not started and waits for the
// running ones (a SIGTERM finishes the work in flight, nothing more).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace certswap {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> job);
  // Forgets the jobs no thread has started; returns how many.
  std::size_t drop_pending();
  // Returns once every queued job ran and every thread ended.
  void wait_idle();
  // Threads alive now (0 when idle).
  std::size_t threads() const;

 private:
  using Threads = std::list<std::thread>;
  void work(Threads::iterator self);
  void join_finished(std::unique_lock<std::mutex>& lock);

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> jobs_;
  Threads threads_;
  std::list<Threads::iterator> finished_;
};

}  // namespace certswap
