#pragma once
// A fixed set of threads running queued jobs, first in first out: the
// sidecar's checks of many targets at once. Destroying the pool drops the
// jobs not started and waits for the running ones (a SIGTERM finishes the
// work in flight, nothing more).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

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

 private:
  void work(std::stop_token stop);

  std::mutex mutex_;
  std::condition_variable_any ready_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::jthread> threads_;  // last: they stop and join before the queue goes
};

}  // namespace certswap
