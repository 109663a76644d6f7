#include "loop_health.hpp"

#include <fmt/format.h>

namespace certswap {

LoopHealth::LoopHealth(std::function<Clock::time_point()> now) : now_(std::move(now)) {}

void LoopHealth::begin(std::string what, Clock::duration bound) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  busy_ = true;
  loop_ = {std::move(what), now, bound};
}

int LoopHealth::begin_work(std::string what, Clock::duration bound) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  const int id = next_id_++;
  workers_[id] = {std::move(what), now, bound};
  return id;
}

void LoopHealth::end_work(int id) {
  std::lock_guard lock(mutex_);
  workers_.erase(id);
}

void LoopHealth::idle() {
  std::lock_guard lock(mutex_);
  busy_ = false;
}

LoopHealth::Verdict LoopHealth::check() const {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  auto overran = [&](const Work& w) { return now - w.started > w.bound; };
  const Work* stuck = busy_ && overran(loop_) ? &loop_ : nullptr;
  for (const auto& [id, w] : workers_) {
    if (!stuck && overran(w)) stuck = &w;
  }
  if (!stuck) return {};
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  return {false, fmt::format("stalled: {} has run for {} s, longer than its bound of {} s",
                             stuck->what, duration_cast<seconds>(now - stuck->started).count(),
                             duration_cast<seconds>(stuck->bound).count())};
}

}  // namespace certswap
