// The sidecar's pool of checks and its gate on broker handshakes.
#include "worker_pool.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>

#include "certswap/concurrency_gate.hpp"
#include "loop_health.hpp"

using namespace certswap;
using namespace std::chrono_literals;

namespace {
void raise_to(std::atomic<int>& most, int now) {
  int seen = most.load();
  while (now > seen && !most.compare_exchange_weak(seen, now)) {
  }
}
}  // namespace

TEST_CASE("the pool runs every job, never more at once than its threads", "[pool]") {
  std::atomic<int> running{0}, most{0}, ran{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 30; ++i) {
      pool.submit([&] {
        raise_to(most, ++running);
        std::this_thread::sleep_for(2ms);
        --running;
        ++ran;
      });
    }
    for (int i = 0; i < 2000 && ran < 30; ++i) std::this_thread::sleep_for(5ms);
  }
  CHECK(ran == 30);
  CHECK(most <= 3);
  CHECK(most >= 2);  // they ran side by side
}

TEST_CASE("a job that hangs holds one thread, and the others go on", "[pool]") {
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> ran{0};
  {
    WorkerPool pool(2);
    pool.submit([&] {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return release; });
    });
    for (int i = 0; i < 10; ++i) pool.submit([&] { ++ran; });
    for (int i = 0; i < 2000 && ran < 10; ++i) std::this_thread::sleep_for(5ms);
    CHECK(ran == 10);  // all done while the first one still hangs
    {
      std::lock_guard lock(mutex);
      release = true;
    }
    cv.notify_all();
  }
}

TEST_CASE("dropping the pool drops the jobs not started and finishes the running ones", "[pool]") {
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> go{false};
  {
    WorkerPool pool(1);
    pool.submit([&] {
      ++started;
      while (!go) std::this_thread::yield();
      ++finished;
    });
    for (int i = 0; i < 5; ++i) pool.submit([&] { ++started; });
    while (started == 0) std::this_thread::yield();
    CHECK(pool.drop_pending() == 5);
    go = true;
  }
  CHECK(started == 1);
  CHECK(finished == 1);
}

TEST_CASE("the gate lets no more than its holders through at once", "[pool]") {
  ConcurrencyGate gate(2);
  std::atomic<int> inside{0}, most{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int k = 0; k < 20; ++k) {
          auto pass = enter(&gate);
          raise_to(most, ++inside);
          std::this_thread::sleep_for(1ms);
          --inside;
        }
      });
    }
  }
  CHECK(most <= 2);
  CHECK(most == 2);
  auto free_pass = enter(nullptr);  // no gate: nothing to wait for
  (void)free_pass;
}

TEST_CASE("a check on a worker past its bound makes the sidecar unhealthy", "[health]") {
  LoopHealth::Clock::time_point now{};
  LoopHealth health([&] { return now; });
  health.idle();
  const int a = health.begin_work("the check of a", 60s);
  const int b = health.begin_work("the check of b", 90s);
  now += 61s;
  const auto verdict = health.check();
  CHECK_FALSE(verdict.healthy);
  CHECK(verdict.reason ==
        "stalled: the check of a has run for 61 s, longer than its bound of 60 s");
  health.end_work(a);
  CHECK(health.check().healthy);
  health.end_work(b);
  now += 1h;
  CHECK(health.check().healthy);
}

TEST_CASE("the pool starts threads for its jobs and keeps none once they ran", "[pool]") {
  WorkerPool pool(4);
  CHECK(pool.threads() == 0);
  std::atomic<int> ran{0};
  for (int i = 0; i < 8; ++i) pool.submit([&] { ++ran; });
  pool.wait_idle();
  CHECK(ran == 8);
  CHECK(pool.threads() == 0);
}
