#pragma once
// One log schema for every record, steps and log lines alike, on stderr
// (stdout is for command output: `status`, `--json`). README "Logs".
//   time      RFC 3339, UTC, milliseconds ("2026-12-06T10:00:00.123Z")
//   level     error, warn, info, debug
//   event     the step ("fetch", "swap", "check"...), or "log" for a log line
//   target    the target's name, "" when the record is not about one
//   msg       what happened
// A step adds step, status, ms, us and detail; a failure adds error (its
// kind) and exit_code (what the command exits with). Text puts the same
// fields on one line; under systemd (JOURNAL_STREAM names stderr) each line
// starts with its syslog priority, so `journalctl -p err` finds failures.
#include <string_view>

#include "certswap/error.hpp"
#include "certswap/step_reporter.hpp"

namespace certswap {

enum class LogFormat { Text, Json };
enum class LogLevel { Debug, Info, Warn, Error };

Result<LogLevel> parse_log_level(std::string_view text);

void setup_logging(LogFormat format, LogLevel level = LogLevel::Info);

// The error that ends a command, with its kind and exit code.
void log_failure(const Error& error, int exit_code);

class PrintingReporter final : public StepReporter {
 public:
  // Prints in setup_logging's format and level.
  void step(std::string_view target, std::string_view step, std::string_view status,
            std::chrono::microseconds took, std::string_view detail) override;
};

}  // namespace certswap
