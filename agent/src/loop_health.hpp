#pragma once
// Whether the sidecar's loop is making progress, for /healthz and the systemd
// watchdog. The loop says what it starts and how long that may take at most;
// asleep between events it is healthy by definition (the timer wakes it).
// Healthy means: asleep, or busy for less than the bound of the work in
// flight. Thread-safe: the loop writes, the endpoint and watchdog threads read.
#include <chrono>
#include <functional>
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

  struct Verdict {
    bool healthy = true;
    std::string reason;  // when not healthy: what is stuck, for how long, against which bound
  };
  Verdict check() const;

 private:
  std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  bool busy_ = false;
  std::string what_;
  Clock::time_point started_{};
  Clock::duration bound_{};
};

}  // namespace certswap
