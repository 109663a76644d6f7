#include "certswap/api_budget.hpp"

#include <algorithm>
#include <utility>

namespace certswap {

namespace {
double bucket_size(const ApiBudget::Limits& limits) {
  return limits.burst > 0 ? limits.burst : std::max(1.0, limits.rate);
}
}  // namespace

ApiBudget::ApiBudget(Limits limits, std::function<Clock::time_point()> now)
    : limits_(limits), now_(std::move(now)), tokens_(bucket_size(limits_)), refilled_(now_()) {
  limits_.max_in_flight = std::max(1, limits_.max_in_flight);
}

ApiBudget::Slot& ApiBudget::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (owner_) owner_->release();
    owner_ = std::exchange(other.owner_, nullptr);
  }
  return *this;
}

ApiBudget::Slot::~Slot() {
  if (owner_) owner_->release();
}

void ApiBudget::refill(Clock::time_point now) {
  if (limits_.rate <= 0 || now <= refilled_) return;
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  tokens_ = std::min(bucket_size(limits_), tokens_ + elapsed * limits_.rate);
  refilled_ = now;
}

std::optional<ApiBudget::Clock::time_point> ApiBudget::take_or_retry_at(Clock::time_point now) {
  if (now < paused_until_) return paused_until_;
  // No time to look again at: the next release() wakes the waiter.
  if (in_flight_ >= limits_.max_in_flight) return Clock::time_point::max();
  if (limits_.rate > 0) {
    refill(now);
    if (tokens_ < 1.0) {
      const auto missing = std::chrono::duration<double>((1.0 - tokens_) / limits_.rate);
      return now + std::chrono::ceil<Clock::duration>(missing);
    }
    tokens_ -= 1.0;
  }
  ++in_flight_;
  ++requests_;
  peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
  return std::nullopt;
}

std::optional<ApiBudget::Slot> ApiBudget::try_acquire() {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  if (take_or_retry_at(now)) return std::nullopt;
  return Slot(this);
}

std::optional<ApiBudget::Slot> ApiBudget::acquire() {
  std::unique_lock lock(mutex_);
  bool waited = false;
  for (;;) {
    const auto retry_at = take_or_retry_at(now_());
    if (!retry_at) break;
    if (stopping_) return std::nullopt;
    if (!waited) ++waits_;
    waited = true;
    if (*retry_at == Clock::time_point::max()) {
      changed_.wait(lock);
    } else {
      changed_.wait_until(lock, *retry_at);
    }
  }
  return Slot(this);
}

void ApiBudget::pause(std::chrono::milliseconds delay) {
  const auto until = now_() + delay;
  {
    std::lock_guard lock(mutex_);
    ++pauses_;
    paused_until_ = std::max(paused_until_, until);
  }
  changed_.notify_all();
}

void ApiBudget::stop_waiting() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
}

bool ApiBudget::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void ApiBudget::wait_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, delay, [this] { return stopping_; });
}

void ApiBudget::release() {
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
  }
  changed_.notify_all();
}

ApiBudget::Stats ApiBudget::stats() const {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  Stats s;
  s.rate = limits_.rate;
  s.burst = bucket_size(limits_);
  s.tokens = tokens_;
  if (limits_.rate > 0 && now > refilled_) {
    s.tokens = std::min(
        s.burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * limits_.rate);
  }
  s.in_flight = in_flight_;
  s.max_in_flight = limits_.max_in_flight;
  s.peak_in_flight = peak_in_flight_;
  s.requests = requests_;
  s.pauses = pauses_;
  s.waits = waits_;
  if (paused_until_ > now) {
    s.paused_for = std::chrono::ceil<std::chrono::milliseconds>(paused_until_ - now);
  }
  return s;
}

}  // namespace certswap
