#pragma once
// Whether the sidecar's loop is making progress, for /healthz and the systemd
// watchdog. The loop says what it starts and how long that may take at most;
// asleep between events it is healthy by definition (the timer wakes it).
// Healthy means: asleep, or busy for less than the bound of the work in
// flight. Thread-safe: the loop writes, the endpoint and watchdog threads read.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace certswap {

class LoopHealth {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LoopHealth(std::function<Clock::time_point()> now = Clock::now);

  // The loop starts `what`, which takes at most `bound` unless it is stuck.
  void begin(std::string what, Clock::duration bound);
  // The loop is asleep, waiting for the next event.
  void idle();
  // Work the loop handed to a worker thread, `what` taking at most `bound`:
  // tracked beside the loop's own until end_work(the id returned).
  int begin_work(std::string what, Clock::duration bound);
  void end_work(int id);

  struct Verdict {
    bool healthy = true;
    std::string reason;  // when not healthy: what is stuck, for how long, against which bound
  };
  Verdict check() const;

 private:
  std::function<Clock::time_point()> now_;
  struct Work {
    std::string what;
    Clock::time_point started{};
    Clock::duration bound{};
  };
  mutable std::mutex mutex_;
  bool busy_ = false;
  Work loop_;
  int next_id_ = 0;
  std::map<int, Work> workers_;
};

}  // namespace certswap
