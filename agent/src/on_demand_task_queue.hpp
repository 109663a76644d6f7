#pragma once
// The HTTP endpoint's workers as a WorkerPool: httplib's own ThreadPool keeps
// eight threads waiting for the sidecar's whole life, so an idle sidecar had
// ten threads. With this queue a worker exists only while a connection is
// being served.
#include <httplib.h>

#include <cstddef>
#include <functional>

#include "worker_pool.hpp"

namespace certswap {

class OnDemandTaskQueue final : public httplib::TaskQueue {
 public:
  explicit OnDemandTaskQueue(int max_workers) : pool_(max_workers) {}

  void enqueue(std::function<void()> task) override { pool_.submit(std::move(task)); }
  // httplib calls it when the listener stops: what was accepted is served.
  void shutdown() override { pool_.wait_idle(); }

  std::size_t workers() const { return pool_.threads(); }

 private:
  WorkerPool pool_;
};

}  // namespace certswap
