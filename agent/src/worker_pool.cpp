#include "worker_pool.hpp"

#include <algorithm>
#include <utility>

namespace certswap {

WorkerPool::WorkerPool(int threads)
    : max_threads_(static_cast<std::size_t>(std::max(1, threads))) {}

WorkerPool::~WorkerPool() {
  drop_pending();
  wait_idle();
}

void WorkerPool::submit(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  join_finished(lock);
  jobs_.push_back(std::move(job));
  if (threads_.size() - finished_.size() >= max_threads_) return;  // a busy thread takes it next
  auto self = threads_.emplace(threads_.end());
  // Assigned under the lock the new thread must take first, so it never sees
  // its own entry unset.
  *self = std::thread([this, self] { work(self); });
}

std::size_t WorkerPool::drop_pending() {
  std::lock_guard lock(mutex_);
  const auto n = jobs_.size();
  jobs_.clear();
  return n;
}

void WorkerPool::work(Threads::iterator self) {
  std::unique_lock lock(mutex_);
  while (!jobs_.empty()) {
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
  // The last touch of the pool is under its lock: whoever joins this thread
  // (submit or wait_idle) holds the lock, so the pool outlives the thread.
  finished_.push_back(self);
  idle_.notify_all();
}

void WorkerPool::join_finished(std::unique_lock<std::mutex>& lock) {
  while (!finished_.empty()) {
    auto done = finished_.front();
    finished_.pop_front();
    std::thread thread = std::move(*done);
    threads_.erase(done);
    lock.unlock();
    thread.join();  // it has only its return left to do
    lock.lock();
  }
}

void WorkerPool::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return threads_.size() == finished_.size(); });
  join_finished(lock);
}

std::size_t WorkerPool::threads() const {
  std::lock_guard lock(mutex_);
  return threads_.size() - finished_.size();
}

}  // namespace certswap
