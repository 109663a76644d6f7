#include "worker_pool.hpp"

#include <algorithm>

namespace certswap {

WorkerPool::WorkerPool(int threads) {
  const int n = std::max(1, threads);
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this](std::stop_token stop) { work(stop); });
  }
}

WorkerPool::~WorkerPool() {
  drop_pending();
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins: each finishes the job it runs
}

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
}

std::size_t WorkerPool::drop_pending() {
  std::lock_guard lock(mutex_);
  const auto n = jobs_.size();
  jobs_.clear();
  return n;
}

void WorkerPool::work(std::stop_token stop) {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      if (!ready_.wait(lock, stop, [this] { return !jobs_.empty(); })) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace certswap
