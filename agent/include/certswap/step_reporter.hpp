#pragma once
#include <chrono>
#include <string_view>

namespace certswap {

// Receives one line per pipeline step; the CLI prints them (text or JSON).
class StepReporter {
 public:
  virtual ~StepReporter() = default;
  virtual void step(std::string_view target, std::string_view step, std::string_view status,
                    std::chrono::milliseconds took, std::string_view detail) = 0;
};

}  // namespace certswap
