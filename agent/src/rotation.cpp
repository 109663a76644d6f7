#include "certswap/rotation.hpp"

#include <spdlog/spdlog.h>

#include <optional>

#include "certswap/atomic_store.hpp"
#include "certswap/durable_file.hpp"
#include "certswap/failpoint.hpp"
#include "certswap/journal.hpp"
#include "certswap/live_validator.hpp"
#include "certswap/offline_validator.hpp"
#include "certswap/writer_lock.hpp"

namespace certswap {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// What rotate's and init's `inspect` step says of a valid live set.
std::string valid_live_summary(const CertInfo& cert) {
  return fmt::format("live set is valid until {} (sha256 {})", format_time(cert.not_after),
                     cert.sha256_fingerprint);
}

// Times one step and reports it as one line, ok or failed.
class StepTimer {
 public:
  StepTimer(StepReporter& report, std::string_view target, std::string_view step)
      : report_(report), target_(target), step_(step), start_(steady_clock::now()) {}

  void ok(std::string_view detail) { emit("ok", detail); }
  void skipped(std::string_view detail) { emit("skipped", detail); }
  void warn(std::string_view detail) { emit("warning", detail); }
  std::unexpected<Error> failed(Error error) {
    emit(to_string(error.kind), error.message);
    return std::unexpected(std::move(error));
  }

 private:
  void emit(std::string_view status, std::string_view detail) {
    report_.step(
        target_, step_, status,
        std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - start_),
        detail);
  }
  StepReporter& report_;
  std::string_view target_;
  std::string_view step_;
  steady_clock::time_point start_;
};

// The live set as the apps see it, if there is a readable and valid one.
struct LiveState {
  std::optional<CredentialSet> set;
  std::optional<CertInfo> cert;  // present when the live set is valid right now
  std::string problem;           // why it is not, for the logs
};

class Rotation {
 public:
  Rotation(Target& target, StepReporter& report, Clock::time_point now, WriterLock lock,
           Journal journal, AtomicStore store)
      : target_(target),
        cfg_(target.config),
        report_(report),
        now_(now),
        lock_(std::move(lock)),
        journal_(std::move(journal)),
        store_(std::move(store)) {}

  static Result<Rotation> open(Target& target, StepReporter& report, Clock::time_point now) {
    StepTimer step(report, target.config.name, "open");
    // Held until the rotation is over: the store's repair below and every
    // later write assume nobody else writes this target meanwhile.
    auto lock = WriterLock::acquire(target.config.state_dir, target.config.lock_timeout);
    if (!lock) return step.failed(lock.error());
    StoreOptions options;
    options.key_mode = target.config.key_mode;
    options.public_mode = target.config.public_mode;
    options.uid = target.config.uid;
    options.gid = target.config.gid;
    options.keep_generations = target.config.keep_generations;
    auto store = AtomicStore::open(target.config.output_dir, options);
    if (!store) return step.failed(store.error());
    // The lock made the state dir, which by default lives inside the output dir.
    auto journal = Journal::open(target.config.state_dir);
    if (!journal) return step.failed(journal.error());
    step.ok(target.config.output_dir.string());
    return Rotation(target, report, now, std::move(*lock), std::move(*journal), std::move(*store));
  }

  LiveState read_live() const {
    LiveState live;
    // Plain files count: what `avn service user-creds-download` left is a live set.
    auto files = store_.read_live(target_.format->file_names());
    if (!files) {
      live.problem = files.error().message;
      return live;
    }
    auto set = target_.format->read_back(*files);
    if (!set) {
      live.problem = set.error().message;
      return live;
    }
    live.set = *set;
    OfflinePolicy valid_now{cfg_.clock_skew, std::chrono::seconds(0)};
    auto info = validate_offline(*set, valid_now, now_);
    if (info) {
      live.cert = *info;
    } else {
      live.problem = info.error().message;
    }
    return live;
  }

  // The live certificate's fingerprint, read back through the format: all
  // acknowledging needs. The key and chain of this very set were checked
  // before the swap; checking them again cost a key parse and a chain check.
  std::optional<std::string> live_fingerprint() const {
    auto files = store_.read_live(target_.format->file_names());
    if (!files) return std::nullopt;
    auto set = target_.format->read_back(*files);
    if (!set) return std::nullopt;
    auto info = inspect_certificate_pem(set->cert_pem, "live service.cert");
    if (!info) return std::nullopt;
    return info->sha256_fingerprint;
  }

  Result<RotationReport> run(const RotateOptions& options) {
    if (options.dry_run && options.reset_credentials) {
      return fail(ErrorKind::Usage,
                  "--dry-run cannot be combined with --reset-credentials: a reset replaces the "
                  "credential upstream at once, so it is never a dry run");
    }
    // Timed like every other step: reading and checking the live set parses an
    // RSA key and verifies a chain, which would otherwise count as time outside
    // any step.
    const LiveState live = [&] {
      StepTimer step(report_, cfg_.name, "inspect");
      LiveState found = read_live();
      if (found.cert) {
        step.ok(valid_live_summary(*found.cert));
      } else {
        step.ok(found.set ? "live set is not valid: " + found.problem : "no live set");
      }
      return found;
    }();

    // 1. fetch: what upstream serves now (or a fresh pair, when asked to reset).
    auto fetched = fetch(options);
    if (!fetched) return record_failure(fetched.error());
    if (fetched->empty) {
      StepTimer step(report_, cfg_.name, "compare");
      if (live.cert) {
        step.ok("nothing new on offer; the live set stays");
        return record_success(Outcome::UpToDate, *live.cert);
      }
      return record_failure(
          step.failed({ErrorKind::Invalid,
                       fmt::format("no valid live set in {} and nothing to install: {}",
                                   cfg_.output_dir.string(),
                                   live.problem.empty() ? "empty" : live.problem)})
              .error());
    }

    // 2. compare: the same certificate and CA bundle are live already?
    // (Timed from here: it parses the offered certificate, and below checks
    // the offered set when a live one exists.)
    StepTimer compare(report_, cfg_.name, "compare");
    const bool same_cert =
        live.cert && fingerprint_of(fetched->set.cert_pem) == live.cert->sha256_fingerprint;
    const bool same_ca =
        live.set && sha256_hex(live.set->ca_pem) == sha256_hex(fetched->set.ca_pem);
    if (same_cert && same_ca && !options.force) {
      const auto stale = drift(*live.set);
      compare.ok(
          stale ? fmt::format("live set is current (sha256 {}), but {}",
                              live.cert->sha256_fingerprint, *stale)
                : fmt::format("live set is current (sha256 {})", live.cert->sha256_fingerprint));
      if (options.dry_run) return record_success(Outcome::UpToDate, *live.cert);
      bool owed = false;
      if (stale) {
        auto generation = rerender(*live.set, *live.cert);
        if (!generation) return record_failure(generation.error());
        auto notified = notify(*live.cert, *generation, true);
        if (!notified) return record_failure(notified.error());
      } else if (journal_.state().notified_fingerprint != live.cert->sha256_fingerprint) {
        // A swap whose notification or acknowledgement was lost (crash, app
        // down, API fault): owe them now, in the pipeline's order.
        auto notified = notify(*live.cert, store_.current_generation().value_or(""), true);
        if (!notified) return record_failure(notified.error());
        owed = true;
      }
      if (fetched->renewal_pending && target_.source->can_acknowledge()) {
        auto acked = acknowledge(*live.cert);
        if (!acked) return record_failure(acked.error());
        owed = true;
      }
      // A run killed after its swap left its tail undone: the generation
      // before the previous one, the staged copy, or a generation that was
      // written but never made live.
      if (auto done = finish(); !done) return record_failure(done.error());
      return record_success(stale  ? Outcome::Rerendered
                            : owed ? Outcome::Acknowledged
                                   : Outcome::UpToDate,
                            *live.cert);
    }
    // An API replica that lags behind serves the pair from before the live
    // one: installing it would go back in time, and acknowledging would be
    // wrong. (A set that is not valid goes on, to fail validation by name.)
    // The offline check made here is the validate-offline step's answer too.
    std::optional<Result<CertInfo>> offered;
    if (live.cert && !options.force) {
      offered = validate_offline(fetched->set, offline_policy(), now_);
      if (*offered && (*offered)->not_before < live.cert->not_before) {
        compare.warn(fmt::format(
            "{} offers a certificate issued {} (sha256 {}), before the live one issued {}: "
            "keeping the live set (--force installs it anyway)",
            fetched->set.origin, format_time((*offered)->not_before),
            (*offered)->sha256_fingerprint, format_time(live.cert->not_before)));
        return record_success(Outcome::UpToDate, *live.cert);
      }
    }
    compare.ok(!live.set    ? "no live set"
               : !live.cert ? "live set is not valid: " + live.problem
               : !same_cert ? "a new certificate is available"
               : !same_ca   ? "the CA bundle changed"
                            : "forced");

    // 3. stage: persist before anything else can fail (some sets are view-once).
    if (!options.dry_run) {
      StepTimer step(report_, cfg_.name, "stage");
      auto staged = journal_.stage(fetched->set);
      if (!staged) return record_failure(step.failed(staged.error()).error());
      step.ok((journal_.dir() / "staging").string());
    }
    failpoint("after-stage");

    // 4. validate offline: parse, key match, chain to the project CA, validity.
    CertInfo candidate;
    {
      StepTimer step(report_, cfg_.name, "validate-offline");
      auto info =
          offered ? std::move(*offered) : validate_offline(fetched->set, offline_policy(), now_);
      if (!info) return record_failure(step.failed(info.error()).error());
      candidate = *info;
      step.ok(fmt::format("subject \"{}\", serial {}, not after {}, sha256 {}", candidate.subject,
                          candidate.serial_hex, format_time(candidate.not_after),
                          candidate.sha256_fingerprint));
    }

    // 5. validate live: a real mTLS connection to the brokers with the new set.
    auto live_check = validate_against_broker(fetched->set, live);
    if (!live_check) return record_failure(live_check.error());

    if (options.dry_run) return record_success(Outcome::Validated, candidate);

    // 6. swap: one ..data rename makes the whole set live at once.
    std::string generation;
    {
      StepTimer step(report_, cfg_.name, "swap");
      auto published = publish(fetched->set, candidate);
      if (!published) return record_failure(step.failed(published.error()).error());
      generation = *published;
      step.ok(fmt::format("{} -> {}", (cfg_.output_dir / "..data").string(), generation));
    }
    failpoint("after-swap");

    // 7. notify: the apps must know before upstream is told all is well.
    auto notified = notify(candidate, generation, live.set.has_value());
    if (!notified) return record_failure(notified.error());
    failpoint("after-notify");

    // 8. acknowledge: only now, and only for the set that is live.
    if (fetched->renewal_pending && target_.source->can_acknowledge()) {
      auto acked = acknowledge(candidate);
      if (!acked) return record_failure(acked.error());
    } else {
      StepTimer(report_, cfg_.name, "acknowledge").skipped("no renewal pending upstream");
    }

    // 9. record: the previous generation has served its rollback purpose.
    if (auto done = finish(); !done) return record_failure(done.error());
    auto report = record_success(Outcome::Rotated, candidate);
    if (report) report->generation = generation;
    return report;
  }

  Result<RotationReport> ensure() {
    StepTimer step(report_, cfg_.name, "inspect");
    const LiveState live = read_live();
    if (live.cert) {
      // read_live checked key, chain and expiry; only the minimum remaining
      // validity is left. The full check runs again only when that fails, for
      // its words.
      auto usable = live.cert->not_after > now_ + cfg_.min_remaining
                        ? Result<CertInfo>(*live.cert)
                        : validate_offline(*live.set, offline_policy(), now_);
      if (usable) {
        step.ok(valid_live_summary(*live.cert));
        if (!drift(*live.set)) return record_success(Outcome::UpToDate, *live.cert);
        // Current, but not as the configuration asks: the same as rotate's
        // re-render, without asking upstream.
        auto generation = rerender(*live.set, *live.cert);
        if (!generation) return record_failure(generation.error());
        auto notified = notify(*live.cert, *generation, true);
        if (!notified) return record_failure(notified.error());
        if (auto done = finish(); !done) return record_failure(done.error());
        return record_success(Outcome::Rerendered, *live.cert);
      }
      step.warn(usable.error().message);
    } else {
      step.warn(live.problem.empty() ? "no live set" : live.problem);
    }
    return run(RotateOptions{.force = true});
  }

 private:
  OfflinePolicy offline_policy() const { return {cfg_.clock_skew, cfg_.min_remaining}; }

  // Why the live files are not what the configuration asks for today, if they
  // are not: the format, the pkcs12 password or algorithm, a key mode or the
  // owner changed since they were written.
  std::optional<std::string> drift(const CredentialSet& set) const {
    auto wanted = target_.format->render(set);
    if (!wanted) return wanted.error().message;
    auto files = store_.read_live(target_.format->file_names());
    if (!files) return files.error().message;
    if (!target_.format->holds(*files, set))
      return fmt::format("the files in {} are not what the configured format writes",
                         cfg_.output_dir.string());
    return store_.attributes_differ(*wanted);
  }

  // Writes `set` as a new generation and makes it live (the swap's write).
  Result<std::string> publish(const CredentialSet& set, const CertInfo& cert) {
    auto files = target_.format->render(set);
    if (!files) return std::unexpected(files.error());
    // Plain files become generation + links first, byte for byte, so that
    // the publish below is the same single rename as any other.
    if (auto adopted = store_.adopt_plain_files(target_.format->file_names()); !adopted)
      return std::unexpected(adopted.error());
    auto published = store_.publish(*files);
    if (!published) return std::unexpected(published.error());
    auto state = journal_.state();
    state.live_fingerprint = cert.sha256_fingerprint;
    state.live_ca_fingerprint = sha256_hex(set.ca_pem);
    state.live_generation = *published;
    state.last_rotation = unix_seconds(now_);
    if (auto saved = journal_.save(state); !saved) return std::unexpected(saved.error());
    return published;
  }

  // The live credentials again, as the configuration now asks.
  Result<std::string> rerender(const CredentialSet& set, const CertInfo& cert) {
    StepTimer step(report_, cfg_.name, "re-render");
    auto published = publish(set, cert);
    if (!published) return step.failed(published.error());
    step.ok(fmt::format("{} -> {}", (cfg_.output_dir / "..data").string(), *published));
    return published;
  }

  static std::optional<std::string> fingerprint_of(const std::string& cert_pem) {
    auto info = inspect_certificate_pem(cert_pem, "fetched service.cert");
    if (!info) return std::nullopt;
    return info->sha256_fingerprint;
  }

  Result<Fetched> fetch(const RotateOptions& options) {
    if (options.reset_credentials) {
      if (auto reset = request_reset(); !reset) return std::unexpected(reset.error());
    }
    StepTimer step(report_, cfg_.name, "fetch");
    auto fetched = target_.source->fetch();
    // No fallback to an older staged set here: the Aiven API serves the
    // current pair again (after a reset too), and a staged set may be one that
    // already failed validation.
    if (!fetched) return step.failed(fetched.error());
    step.ok(fmt::format("{}{}", fetched->set.origin,
                        fetched->renewal_pending ? " (renewal pending)" : ""));
    return fetched;
  }

  // A reset replaces the pair upstream at once, so it happens at most once per
  // install: the journal remembers it until its pair is live, and a run after
  // a failed one installs that pair instead of resetting again.
  Result<void> request_reset() {
    StepTimer step(report_, cfg_.name, "reset");
    if (const auto at = journal_.state().reset_requested; at != 0) {
      step.skipped(fmt::format(
          "the reset of {} is not installed yet: installing its pair, not resetting again",
          format_time(Clock::from_time_t(at))));
      return {};
    }
    auto answer = target_.source->reset_credentials();
    if (!answer) return step.failed(answer.error());
    failpoint("after-reset");
    // What the answer holds exists nowhere else yet: keep it before anything.
    if (!answer->empty) {
      if (auto staged = journal_.stage(answer->set); !staged) return step.failed(staged.error());
    }
    auto state = journal_.state();
    state.reset_requested = unix_seconds(now_);
    if (auto saved = journal_.save(state); !saved) return step.failed(saved.error());
    step.ok(answer->empty ? "new pair requested; its answer holds no unredacted pair, so it is "
                            "read back with a GET"
                          : "new pair requested; the pair in its answer is staged");
    return {};
  }

  Result<void> validate_against_broker(const CredentialSet& set, const LiveState& live) {
    // Its own step: the API's time (a GET of the service, once per pass)
    // must not pass for the broker's.
    Result<std::string> bootstrap;
    {
      StepTimer step(report_, cfg_.name, "locate");
      bootstrap = target_.source->bootstrap();
      if (!bootstrap) return step.failed(bootstrap.error());
      step.ok(*bootstrap);
    }
    StepTimer step(report_, cfg_.name, "validate-live");
    const auto pass = enter(target_.live_gate);
    const LiveResult result = validate_live(set, *bootstrap, cfg_.live_timeout);
    switch (result.verdict) {
      case LiveVerdict::Accepted: {
        using ms = std::chrono::duration<double, std::milli>;
        const ms setup = result.client_setup;
        step.ok(fmt::format(
            "broker {} accepted the new set: {} (client setup {:.1f} ms, broker {:.1f} ms, "
            "teardown {:.1f} ms)",
            *bootstrap, result.detail, setup.count(), (ms(result.elapsed) - setup).count(),
            ms(result.teardown).count()));
        return {};
      }
      case LiveVerdict::Rejected:
        return step.failed(
            {ErrorKind::Rejected, fmt::format("broker {} refused the new set from {}: {}",
                                              *bootstrap, set.origin, result.detail)});
      case LiveVerdict::Inconclusive:
        break;
    }
    const auto live_end = live.cert ? live.cert->not_after : now_;
    if (live_end - now_ <= cfg_.emergency_window) {
      const auto message = fmt::format(
          "broker {} could not be reached or gave no verdict (inconclusive: {}), but the live "
          "set {} — swapping on offline "
          "validation alone because the emergency window is {}h",
          *bootstrap, result.detail,
          live.cert ? "expires on " + format_time(live.cert->not_after) : "is missing or invalid",
          std::chrono::duration_cast<std::chrono::hours>(cfg_.emergency_window).count());
      spdlog::warn("{}: {}", cfg_.name, message);
      step.warn(message);
      return {};
    }
    return step.failed({ErrorKind::Inconclusive,
                        fmt::format("broker {} could not be reached or gave no verdict "
                                    "(inconclusive: {}); the live set stays until the next "
                                    "attempt",
                                    *bootstrap, result.detail)});
  }

  // `had_live_set` false: a first install (init container); no app runs on
  // these files yet, so there is nobody to tell.
  Result<void> notify(const CertInfo& cert, const std::string& generation, bool had_live_set) {
    SwapEvent event{cfg_.name, cfg_.output_dir, generation, cert.sha256_fingerprint,
                    format_time(cert.not_after)};
    if (!had_live_set) {
      StepTimer(report_, cfg_.name, "notify")
          .skipped("first install: no app reads these files yet");
    } else if (target_.notifiers.empty()) {
      StepTimer(report_, cfg_.name, "notify").skipped("no notifiers configured");
    }
    for (auto& notifier : target_.notifiers) {
      if (!had_live_set) break;
      StepTimer step(report_, cfg_.name, "notify");
      auto sent = notifier->notify(event);
      if (!sent) return step.failed(sent.error());
      step.ok(notifier->name());
    }
    auto state = journal_.state();
    state.notified_fingerprint = cert.sha256_fingerprint;
    return journal_.save(state);
  }

  // The tail of a rotation whose set is live: keep the live generation and
  // the one before it, drop the staged copy, let the source forget its input.
  Result<void> finish() {
    StepTimer step(report_, cfg_.name, "prune");
    auto pruned = store_.prune(cfg_.keep_generations);
    if (!pruned) return step.failed(pruned.error());
    auto cleared = journal_.clear_staged();
    if (!cleared) return step.failed(cleared.error());
    auto done = target_.source->consumed();
    if (!done) return step.failed(done.error());
    step.ok(fmt::format("keeping {} generations", cfg_.keep_generations));
    return {};
  }

  Result<void> acknowledge(const CertInfo& expected) {
    StepTimer step(report_, cfg_.name, "acknowledge");
    // Read back what the apps see: acknowledging a set that isn't live would
    // stop the reminders while the apps still hold the expiring pair.
    if (live_fingerprint() != expected.sha256_fingerprint) {
      return step.failed({ErrorKind::Internal,
                          fmt::format("not acknowledging: the live set in {} is not the renewed "
                                      "certificate (sha256 {})",
                                      cfg_.output_dir.string(), expected.sha256_fingerprint)});
    }
    failpoint("before-acknowledge");
    auto acked = target_.source->acknowledge();
    if (!acked) return step.failed(acked.error());
    failpoint("after-acknowledge");
    auto state = journal_.state();
    state.acknowledged.push_back(expected.sha256_fingerprint);
    if (state.acknowledged.size() > 10) state.acknowledged.erase(state.acknowledged.begin());
    auto saved = journal_.save(state);
    if (!saved) return step.failed(saved.error());
    step.ok(fmt::format("renewal acknowledged (sha256 {})", expected.sha256_fingerprint));
    return {};
  }

  Result<RotationReport> record_success(Outcome outcome, const CertInfo& cert) {
    auto state = journal_.state();
    state.last_check = unix_seconds(now_);
    state.last_result = std::string(to_string(outcome));
    state.last_error.clear();
    if (outcome != Outcome::Validated) {
      // The live set is what upstream serves: a reset's pair, if one was owed.
      state.reset_requested = 0;
      state.live_fingerprint = cert.sha256_fingerprint;
      if (auto gen = store_.current_generation()) state.live_generation = *gen;
    }
    auto saved = journal_.save(state);
    if (!saved) return std::unexpected(saved.error());
    return RotationReport{outcome, cert, store_.current_generation().value_or("")};
  }

  Result<RotationReport> record_failure(Error error) {
    auto state = journal_.state();
    state.last_check = unix_seconds(now_);
    state.last_result = std::string(to_string(error.kind));
    state.last_error = error.message;
    if (auto saved = journal_.save(state); !saved) {
      spdlog::error("{}: could not record the failure in the journal: {}", cfg_.name,
                    saved.error().message);
    }
    return std::unexpected(std::move(error));
  }

  Target& target_;
  const TargetConfig& cfg_;
  StepReporter& report_;
  Clock::time_point now_;
  WriterLock lock_;
  Journal journal_;
  AtomicStore store_;
};

}  // namespace

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::UpToDate:
      return "up-to-date";
    case Outcome::Rotated:
      return "rotated";
    case Outcome::Acknowledged:
      return "acknowledged";
    case Outcome::Validated:
      return "validated";
    case Outcome::Rerendered:
      return "re-rendered";
  }
  return "up-to-date";
}

namespace {

// One line after a check's steps: its wall time, with the disk's part of it
// (fsync). With the waiting steps (fetch, locate, the broker part of
// validate-live, acknowledge) it gives certswap's own time per check, in the
// sidecar as in a one-shot run, where process start and exit come on top.
template <typename Body>
Result<RotationReport> timed_check(const Target& target, StepReporter& report, Body body) {
  const auto start = steady_clock::now();
  const auto synced_before = fsync_stats();
  auto result = body();
  const auto synced = fsync_stats();
  // "failed", not the error's kind: the failing step already reported that,
  // and the metrics count API errors by the status of each line they see.
  report.step(target.config.name, "check", result ? "ok" : "failed",
              std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - start),
              fmt::format("{}; {} fsync calls, {} us in fsync",
                          result ? to_string(result->outcome) : to_string(result.error().kind),
                          synced.calls - synced_before.calls,
                          (synced.waited - synced_before.waited).count()));
  return result;
}

}  // namespace

Result<RotationReport> rotate(Target& target, const RotateOptions& options, StepReporter& report,
                              Clock::time_point now) {
  return timed_check(target, report, [&]() -> Result<RotationReport> {
    auto rotation = Rotation::open(target, report, now);
    if (!rotation) return std::unexpected(rotation.error());
    return rotation->run(options);
  });
}

Result<RotationReport> ensure_live(Target& target, StepReporter& report, Clock::time_point now) {
  return timed_check(target, report, [&]() -> Result<RotationReport> {
    auto rotation = Rotation::open(target, report, now);
    if (!rotation) return std::unexpected(rotation.error());
    return rotation->ensure();
  });
}

}  // namespace certswap
