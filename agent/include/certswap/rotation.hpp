#pragma once
// One rotation of one target, top to bottom:
//   fetch -> compare -> stage -> validate offline -> validate live -> swap
//   -> notify -> acknowledge -> record
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "certswap/cert_info.hpp"
#include "certswap/concurrency_gate.hpp"
#include "certswap/config.hpp"
#include "certswap/format.hpp"
#include "certswap/notifier.hpp"
#include "certswap/output.hpp"
#include "certswap/source.hpp"
#include "certswap/step_reporter.hpp"

namespace certswap {

struct Target {
  TargetConfig config;
  std::unique_ptr<Source> source;
  std::unique_ptr<Format> format;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  // Opens where the apps read the set; none: the output directory.
  OutputOpener output;
  OutputWatcher watch_output;  // none: nothing to watch besides the directory
  // Shared by the targets a sidecar checks at once: bounds their broker
  // handshakes (--live-concurrency). None: unbounded (one target at a time).
  ConcurrencyGate* live_gate = nullptr;
  // True once the agent is stopping (SIGTERM in `run`): a broker check gives
  // up, and no emergency swap starts on a check that was cut short. None: never.
  std::function<bool()> stopping;
  // False when another replica may lead by now (run --leader-lease): the
  // renewal is then not acknowledged here; the leader does it once it sees the
  // set live. None: always true.
  std::function<bool()> may_acknowledge;
};

struct RotateOptions {
  bool dry_run = false;            // fetch and validate; change nothing
  bool force = false;              // swap even if the live set is the same
  bool reset_credentials = false;  // ask upstream for a new pair first
};

enum class Outcome {
  UpToDate,      // the live set is what upstream serves; nothing owed
  Rotated,       // a new set was validated, swapped and announced
  Acknowledged,  // the live set was already right; an owed acknowledgement was sent
  Validated,     // dry run: the candidate passed every check
  Rerendered,    // the live set was current, its files were rewritten as the config now asks
  // A new set went live on offline checks alone: the brokers gave no verdict
  // and the live set was inside the emergency window (or missing).
  RotatedUnchecked,
  Notified,  // the live set was already right; an owed notification was sent
};

struct RotationReport {
  Outcome outcome = Outcome::UpToDate;
  CertInfo live;           // the certificate live at the end
  std::string generation;  // the generation live at the end
};

using Clock = std::chrono::system_clock;

Result<RotationReport> rotate(Target& target, const RotateOptions& options, StepReporter& report,
                              Clock::time_point now);

// Init-container mode: a valid live set is kept as it is (no API call);
// otherwise the current credential is fetched and installed.
Result<RotationReport> ensure_live(Target& target, StepReporter& report, Clock::time_point now);

std::string_view to_string(Outcome outcome);

// The target's output: its opener's, else its output directory.
Result<std::unique_ptr<Output>> open_output(const Target& target, OutputAccess access);

}  // namespace certswap
