#include <spdlog/spdlog.h>

#include "certswap/cert_info.hpp"
#include "certswap/durable_file.hpp"
#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"

namespace certswap::cli {
int run_rotations(const Flags& flags, bool init_mode, const RotateOptions& options, bool detailed) {
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  auto agent = build_agent(*config);
  if (!agent) return report_error(agent.error());
  PrintingReporter reporter(flags.log_format == "json" ? LogFormat::Json : LogFormat::Text);
  int worst = kExitOk;
  bool rotated = false;
  for (auto& target : agent->targets) {
    const auto now = Clock::now();
    const auto synced_before = fsync_stats();
    auto result =
        init_mode ? ensure_live(target, reporter, now) : rotate(target, options, reporter, now);
    // Not a step: the time the steps above spent in fsync, the disk's part of them.
    const auto synced = fsync_stats();
    reporter.step(
        target.config.name, "fsync", "ok", synced.waited - synced_before.waited,
        fmt::format("{} fsync calls within the steps above", synced.calls - synced_before.calls));
    if (!result) {
      const int code = report_error(result.error());
      if (worst == kExitOk) worst = code;
      continue;
    }
    rotated |= result->outcome == Outcome::Rotated || result->outcome == Outcome::Rerendered;
    spdlog::info("{}: {} (live: subject \"{}\", not after {}, sha256 {})", target.config.name,
                 to_string(result->outcome), result->live.subject,
                 format_time(result->live.not_after), result->live.sha256_fingerprint);
  }
  if (worst == kExitOk && detailed && rotated) return kExitRotated;
  return worst;
}

}  // namespace certswap::cli
