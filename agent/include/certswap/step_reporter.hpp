#pragma once
#include <chrono>
#include <string_view>

namespace certswap {

// Receives one line per pipeline step; the CLI prints them (text or JSON).
// Microseconds: most local steps take well under a millisecond, and a
// benchmark summing whole milliseconds would lose them.
class StepReporter {
 public:
  virtual ~StepReporter() = default;
  virtual void step(std::string_view target, std::string_view step, std::string_view status,
                    std::chrono::microseconds took, std::string_view detail) = 0;
};

}  // namespace certswap
