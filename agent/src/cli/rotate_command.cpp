#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "certswap/cert_info.hpp"
#include "certswap/concurrency_gate.hpp"
#include "certswap/exit_codes.hpp"
#include "cli/cli.hpp"
#include "worker_pool.hpp"

namespace certswap::cli {
namespace {

using Check = std::function<Result<RotationReport>(Target&)>;

// Many targets, as the sidecar checks them: on a pool with the same bounds
// (--concurrency API requests through the client's budget, --live-concurrency
// broker handshakes), so that a CronJob over 1,000 targets is not a sequential
// walk.
std::vector<std::optional<Result<RotationReport>>> run_many(Agent& agent, const Config& config,
                                                            const Check& check) {
  std::vector<std::optional<Result<RotationReport>>> results(agent.targets.size());
  ConcurrencyGate live_gate(config.live_concurrency);
  for (auto& t : agent.targets) t.live_gate = &live_gate;
  {
    WorkerPool pool(std::max(1, config.api.concurrency) + std::max(1, config.live_concurrency));
    for (std::size_t i = 0; i < agent.targets.size(); ++i)
      pool.submit([&, i] { results[i] = check(agent.targets[i]); });
    pool.wait_idle();
  }
  for (auto& t : agent.targets) t.live_gate = nullptr;
  return results;
}

}  // namespace

int run_rotations(const Flags& flags, bool init_mode, const RotateOptions& options, bool detailed) {
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  auto agent = build_agent(*config);
  if (!agent) return report_error(agent.error());
  PrintingReporter reporter;
  // One pass: the project CA and the service's brokers are asked once, not per target.
  agent->api->new_pass();
  const Check check = [&](Target& target) {
    const auto now = Clock::now();
    return init_mode ? ensure_live(target, reporter, now) : rotate(target, options, reporter, now);
  };
  std::vector<std::optional<Result<RotationReport>>> results;
  if (agent->targets.size() == 1) {
    results.emplace_back(check(agent->targets.front()));
  } else {
    results = run_many(*agent, *config, check);
  }

  int worst = kExitOk;
  bool rotated = false;
  bool unchecked = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& target = agent->targets[i];
    const auto& result = *results[i];
    if (!result) {
      const int code = report_error(result.error());
      if (worst == kExitOk) worst = code;
      continue;
    }
    rotated |= result->outcome == Outcome::Rotated || result->outcome == Outcome::Rerendered;
    unchecked |= result->outcome == Outcome::RotatedUnchecked;
    spdlog::info("{}: {} (live: subject \"{}\", not after {}, sha256 {})", target.config.name,
                 to_string(result->outcome), result->live.subject,
                 format_time(result->live.not_after), result->live.sha256_fingerprint);
  }
  if (worst == kExitOk && detailed && unchecked) return kExitRotatedUnchecked;
  if (worst == kExitOk && detailed && rotated) return kExitRotated;
  return worst;
}

}  // namespace certswap::cli
