#pragma once
// Per-target counters and gauges, rendered in the Prometheus text format.
// Fed by the pipeline's step lines, so the pipeline itself knows nothing of metrics.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "certswap/api_budget.hpp"
#include "certswap/step_reporter.hpp"

namespace certswap {

class Metrics final : public StepReporter {
 public:
  explicit Metrics(StepReporter& next) : next_(next) {}

  void step(std::string_view target, std::string_view step, std::string_view status,
            std::chrono::microseconds took, std::string_view detail) override;

  void set_not_after(const std::string& target, std::int64_t unix_seconds);
  void set_last_check(const std::string& target, std::int64_t unix_seconds, bool success);
  void set_ready(const std::string& target, bool ready);
  // What the journal says after a restart, so that the gauges are not 0.
  void restore(const std::string& target, std::int64_t last_rotation, std::int64_t last_success);
  void count_notification_failure(const std::string& target);
  // The API budget's state joins the rendering (tokens, in flight, pauses).
  void watch_budget(std::shared_ptr<const ApiBudget> budget);

  bool all_ready() const;
  std::string render() const;

 private:
  struct PerTarget {
    std::int64_t not_after = 0, last_check = 0, last_success = 0, last_rotation = 0;
    std::uint64_t rotations = 0, acknowledgements = 0, notification_failures = 0;
    // A renewal upstream not yet acknowledged (as the last fetch saw it), and
    // whether the live set is that renewal already (only the ack is owed).
    std::int64_t renewal_pending = 0, renewal_live_unacknowledged = 0;
    std::int64_t failed_checks_in_a_row = 0;
    std::map<std::pair<std::string, std::string>, std::uint64_t> validations;  // (stage, outcome)
    std::map<std::string, std::uint64_t> api_errors;                           // status
    bool ready = false;
  };
  static void render_budget(std::string& out, const ApiBudget::Stats& budget);
  StepReporter& next_;
  std::shared_ptr<const ApiBudget> budget_;
  mutable std::mutex mutex_;
  std::map<std::string, PerTarget> targets_;
};

}  // namespace certswap
