#include "loop_health.hpp"

#include <fmt/format.h>

namespace certswap {

LoopHealth::LoopHealth(std::function<Clock::time_point()> now) : now_(std::move(now)) {}

void LoopHealth::begin(std::string what, Clock::duration bound) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  busy_ = true;
  what_ = std::move(what);
  started_ = now;
  bound_ = bound;
}

void LoopHealth::idle() {
  std::lock_guard lock(mutex_);
  busy_ = false;
}

LoopHealth::Verdict LoopHealth::check() const {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  if (!busy_ || now - started_ <= bound_) return {};
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  return {false, fmt::format("stalled: {} has run for {} s, longer than its bound of {} s", what_,
                             duration_cast<seconds>(now - started_).count(),
                             duration_cast<seconds>(bound_).count())};
}

}  // namespace certswap
