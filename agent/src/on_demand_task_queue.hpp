#pragma once
// The HTTP endpoint's workers, started when a request arrives rather than at
// start-up: httplib's own ThreadPool keeps eight threads waiting for the
// sidecar's whole life, so an idle sidecar had ten threads. With this queue it
// has its loop and httplib's listener, and a worker exists only while a
// connection is being served.
#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace certswap {

class OnDemandTaskQueue final : public httplib::TaskQueue {
 public:
  explicit OnDemandTaskQueue(std::size_t max_workers) : max_workers_(max_workers) {}
  ~OnDemandTaskQueue() override { shutdown(); }

  // A connection to serve: a worker takes it now, or the next one that frees up.
  void enqueue(std::function<void()> task) override;
  // Serves what is queued, then joins every worker.
  void shutdown() override;

  std::size_t workers() const;

 private:
  using Workers = std::list<std::thread>;
  void work(Workers::iterator self);
  void join_finished(std::unique_lock<std::mutex>& lock);

  const std::size_t max_workers_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> pending_;
  Workers workers_;
  std::list<Workers::iterator> finished_;
};

}  // namespace certswap
