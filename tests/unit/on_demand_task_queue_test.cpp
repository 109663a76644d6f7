#include "on_demand_task_queue.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using namespace certswap;
using namespace std::chrono_literals;

namespace {

// A gate the tasks wait at, so the test decides when they finish.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int waiting = 0;
  void pass() {
    std::unique_lock lock(mutex);
    ++waiting;
    changed.notify_all();
    changed.wait(lock, [&] { return open; });
  }
  bool await_waiting(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return waiting == n; });
  }
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    changed.notify_all();
  }
};

bool eventually_no_workers(const OnDemandTaskQueue& queue) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (queue.workers() != 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("the endpoint's queue has no worker until a request comes, and none after it", "[http]") {
  OnDemandTaskQueue queue(2);
  CHECK(queue.workers() == 0);
  std::atomic<int> ran = 0;
  queue.enqueue([&] { ++ran; });
  CHECK(eventually_no_workers(queue));
  queue.shutdown();
  CHECK(ran == 1);
}

TEST_CASE("the endpoint's queue never runs more workers than its bound, and loses no task",
          "[http]") {
  OnDemandTaskQueue queue(2);
  Gate gate;
  std::atomic<int> ran = 0;
  for (int i = 0; i < 5; ++i) {
    queue.enqueue([&] {
      gate.pass();
      ++ran;
    });
  }
  REQUIRE(gate.await_waiting(2));  // two are served at once ...
  CHECK(queue.workers() == 2);     // ... and the other three wait their turn
  gate.release();
  queue.shutdown();
  CHECK(ran == 5);
  CHECK(queue.workers() == 0);
}
