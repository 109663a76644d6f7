#pragma once
#include <string_view>

#include "certswap/step_reporter.hpp"

namespace certswap {

enum class LogFormat { Text, Json };

// Logs go to stderr (text or one JSON object per line); step lines to stdout.
void setup_logging(LogFormat format);

class PrintingReporter final : public StepReporter {
 public:
  explicit PrintingReporter(LogFormat format) : format_(format) {}
  void step(std::string_view target, std::string_view step, std::string_view status,
            std::chrono::microseconds took, std::string_view detail) override;

 private:
  LogFormat format_;
};

}  // namespace certswap
