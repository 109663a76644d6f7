#include "on_demand_task_queue.hpp"

#include <utility>

namespace certswap {

void OnDemandTaskQueue::enqueue(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  join_finished(lock);
  pending_.push_back(std::move(task));
  if (workers_.size() - finished_.size() >= max_workers_) return;  // a busy worker takes it next
  auto self = workers_.emplace(workers_.end());
  *self = std::thread([this, self] { work(self); });
}

void OnDemandTaskQueue::work(Workers::iterator self) {
  std::unique_lock lock(mutex_);
  while (!pending_.empty()) {
    auto task = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  // The last touch of this object is under the lock: whoever joins us next
  // (enqueue or shutdown) holds it, so the queue outlives the worker.
  finished_.push_back(self);
  idle_.notify_all();
}

void OnDemandTaskQueue::join_finished(std::unique_lock<std::mutex>& lock) {
  while (!finished_.empty()) {
    auto done = finished_.front();
    finished_.pop_front();
    std::thread thread = std::move(*done);
    workers_.erase(done);
    lock.unlock();
    thread.join();  // it only has its return left to do
    lock.lock();
  }
}

void OnDemandTaskQueue::shutdown() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return workers_.size() == finished_.size(); });
  join_finished(lock);
}

std::size_t OnDemandTaskQueue::workers() const {
  std::lock_guard lock(mutex_);
  return workers_.size() - finished_.size();
}

}  // namespace certswap
