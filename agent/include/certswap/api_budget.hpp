#pragma once
// One token's share of the API: a rate budget (a token bucket of requests per
// second), a bound on requests in flight at once, and a pause that a 429 with
// Retry-After imposes on every request made with that token, not only on the
// one that got it. Shared by every thread that uses the token; thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

namespace certswap {

class ApiBudget {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    double rate = 100.0;  // requests per second; 0 = no rate limit
    double burst = 0;     // bucket size; 0 = one second's worth (at least 1)
    int max_in_flight = 8;
  };

  // `now` is injected so tests can move time; the blocking acquire() waits on the real clock.
  explicit ApiBudget(Limits limits, std::function<Clock::time_point()> now = Clock::now);

  // Held while one request is on the wire: returns its place in flight.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(ApiBudget* owner) : owner_(owner) {}
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

   private:
    ApiBudget* owner_ = nullptr;
  };

  // Waits until a request may go: not paused, a token in the bucket, a place in flight.
  // Nothing once stop_waiting() was called and the request would have to wait.
  std::optional<Slot> acquire();
  // The same without waiting: nothing when the request would have to wait.
  std::optional<Slot> try_acquire();

  // Upstream said "too many requests, come back in `delay`": nobody sends before then.
  void pause(std::chrono::milliseconds delay);

  // The agent is stopping (SIGTERM): every wait of acquire() and wait_for()
  // ends now and none starts again; a request that may go at once still goes.
  void stop_waiting();
  bool stopping() const;
  // Waits `delay` on the real clock, or until stop_waiting(): a retry's back-off.
  void wait_for(std::chrono::milliseconds delay);

  struct Stats {
    double tokens = 0;           // in the bucket now
    double rate = 0, burst = 0;  // the configuration
    int in_flight = 0, max_in_flight = 0;
    int peak_in_flight = 0;                   // the most at once so far
    std::uint64_t requests = 0;               // slots handed out
    std::uint64_t pauses = 0;                 // 429s that paused the token
    std::uint64_t waits = 0;                  // acquires that had to wait
    std::chrono::milliseconds paused_for{0};  // left of the current pause
  };
  Stats stats() const;

 private:
  void refill(Clock::time_point now);
  // Takes a slot if one may go now; otherwise says when to look again.
  std::optional<Clock::time_point> take_or_retry_at(Clock::time_point now);
  void release();

  Limits limits_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  double tokens_;
  Clock::time_point refilled_;
  Clock::time_point paused_until_{};
  int in_flight_ = 0, peak_in_flight_ = 0;
  std::uint64_t requests_ = 0, pauses_ = 0, waits_ = 0;
  bool stopping_ = false;
};

}  // namespace certswap
