#include "certswap/rotation.hpp"

#include <spdlog/spdlog.h>

#include <optional>

#include "certswap/directory_output.hpp"
#include "certswap/durable_file.hpp"
#include "certswap/failpoint.hpp"
#include "certswap/identity.hpp"
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

// Times one step and reports it as one line, ok or failed.
class StepTimer {
 public:
  StepTimer(StepReporter& report, std::string_view target, std::string_view step)
      : report_(report), target_(target), step_(step), start_(steady_clock::now()) {}

  void ok(std::string_view detail) { emit("ok", detail); }
  void skipped(std::string_view detail) { emit("skipped", detail); }
  void warn(std::string_view detail) { emit("warning", detail); }
  // The broker's verdict was skipped (metrics count it by this status).
  void emergency(std::string_view detail) { emit("emergency", detail); }
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

enum class BrokerCheck {
  Accepted,  // the brokers accepted the new set
  Skipped,   // no verdict, and the live set was about to expire: swapped on offline checks
};

// What the output directory holds when a run starts. Each step switches on
// this instead of inferring it from whether the files could be read.
enum class Holding {
  Nothing,  // never held a set: no `..data`, no file or link, no journal record
  Ours,     // a readable set of the configured user (`cert` when valid right now)
  Foreign,  // a readable set of another user or project: not this target's live set
  Damaged,  // something is there, but no readable set (a file lost, a link dangling)
  Unknown,  // the output could not be asked (its API server): `unreadable` says why
};

struct LiveState {
  Holding holding = Holding::Nothing;
  std::optional<CredentialSet> set;  // Ours or Foreign
  std::optional<CertInfo> cert;      // Ours and valid right now
  std::string problem;               // why it is not Ours and valid
  std::optional<Error> unreadable;   // Unknown

  // Only a directory that never held a set has no app reading it.
  bool apps_may_read() const { return holding != Holding::Nothing; }
  bool ours_and_valid() const { return holding == Holding::Ours && cert.has_value(); }

  std::string summary() const {
    switch (holding) {
      case Holding::Nothing:
        return "no live set: the output never held one";
      case Holding::Ours:
        return cert ? fmt::format("live set is valid until {} (sha256 {})",
                                  format_time(cert->not_after), cert->sha256_fingerprint)
                    : "live set is not valid: " + problem;
      case Holding::Foreign:
        return "the live set is not this target's: " + problem;
      case Holding::Damaged:
        return "the live set is damaged: " + problem;
      case Holding::Unknown:
        return "the live set could not be read: " + problem;
    }
    return problem;
  }
};

class Rotation {
 public:
  Rotation(Target& target, StepReporter& report, Clock::time_point now, WriterLock lock,
           Journal journal, std::unique_ptr<Output> output)
      : target_(target),
        cfg_(target.config),
        report_(report),
        now_(now),
        lock_(std::move(lock)),
        journal_(std::move(journal)),
        output_(std::move(output)) {}

  static Result<Rotation> open(Target& target, StepReporter& report, Clock::time_point now) {
    StepTimer step(report, target.config.name, "open");
    // Held until the rotation is over: the store's repair below and every
    // later write assume nobody else writes this target meanwhile.
    auto lock = WriterLock::acquire(target.config.output_dir, target.config.state_dir,
                                    target.config.lock_timeout);
    if (!lock) return step.failed(lock.error());
    auto output = open_output(target, OutputAccess::Write);
    if (!output) return step.failed(output.error());
    // The lock made the state dir, which by default lives inside the output dir.
    auto journal = Journal::open(target.config.state_dir);
    if (!journal) return step.failed(journal.error());
    step.ok((*output)->describe());
    return Rotation(target, report, now, std::move(*lock), std::move(*journal), std::move(*output));
  }

  LiveState read_live() const {
    LiveState live;
    const auto names = target_.format->file_names();
    // Plain files count: what `avn service user-creds-download` left is a live set.
    auto files = output_->read_live(names);
    if (!files) {
      live.holding = output_->read_error_means_damaged() ? Holding::Damaged : Holding::Unknown;
      live.problem = files.error().message;
      if (live.holding == Holding::Unknown) live.unreadable = files.error();
      return live;
    }
    auto set = target_.format->read_back(*files);
    if (!set) {
      const bool held = !files->empty() || output_->ever_held_a_set(names) ||
                        !journal_.state().live_fingerprint.empty();
      live.holding = held ? Holding::Damaged : Holding::Nothing;
      live.problem = set.error().message;
      return live;
    }
    OfflinePolicy valid_now{cfg_.clock_skew, std::chrono::seconds(0)};
    auto info = validate_offline(*set, valid_now, now_);
    // An invalid set still names its user, unless its certificate is unreadable.
    auto who = info ? info : inspect_certificate_pem(set->cert_pem, "live service.cert");
    if (!who) {
      live.holding = Holding::Damaged;
      live.problem = info.error().message;
      return live;
    }
    live.set = std::move(*set);
    if (auto other = identity_mismatch(*who, cfg_.user)) {
      live.holding = Holding::Foreign;
      live.problem = *other;
      return live;
    }
    live.holding = Holding::Ours;
    if (info) {
      live.cert = *info;
    } else {
      live.problem = info.error().message;
    }
    return live;
  }

  // A live set of this user that does not chain to the project CA upstream
  // serves now belongs to another project: not this target's either.
  void check_project(LiveState& live, const CredentialSet& fetched) const {
    if (!live.ours_and_valid() || live.set->ca_pem == fetched.ca_pem) return;
    CredentialSet under_project_ca{fetched.ca_pem, live.set->cert_pem, live.set->key_pem,
                                   live.set->origin};
    OfflinePolicy valid_now{cfg_.clock_skew, std::chrono::seconds(0)};
    auto chained = validate_offline(under_project_ca, valid_now, now_);
    if (chained) return;
    live.holding = Holding::Foreign;
    live.problem = fmt::format("its certificate is not signed by the project CA {} serves ({})",
                               fetched.origin, chained.error().message);
    live.cert.reset();
  }

  // The live certificate's fingerprint, read back through the format: all
  // acknowledging needs. The key and chain of this very set were checked
  // before the swap; checking them again cost a key parse and a chain check.
  std::optional<std::string> live_fingerprint() const {
    auto files = output_->read_live(target_.format->file_names());
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
    LiveState live = [&] {
      StepTimer step(report_, cfg_.name, "inspect");
      LiveState found = read_live();
      if (found.unreadable) {
        (void)step.failed(*found.unreadable);
      } else if (found.holding == Holding::Foreign || found.holding == Holding::Damaged) {
        step.warn(found.summary());
      } else {
        step.ok(found.summary());
      }
      return found;
    }();
    // Nothing is decided about a set that could not be seen: not a damaged
    // one to replace, not a current one to acknowledge.
    if (live.unreadable) return record_failure(*live.unreadable);

    // 1. fetch: what upstream serves now (or a fresh pair, when asked to reset).
    auto fetched = options.reset_credentials ? fetch_after_reset() : fetch();
    if (!fetched) return record_failure(fetched.error());
    if (fetched->empty) {
      StepTimer step(report_, cfg_.name, "compare");
      if (live.ours_and_valid()) {
        step.ok("nothing new on offer; the live set stays");
        return record_success(Outcome::UpToDate, *live.cert);
      }
      return record_failure(
          step.failed({ErrorKind::Invalid, fmt::format("no valid live set in {} and nothing to "
                                                       "install: {}",
                                                       output_->describe(), live.summary())})
              .error());
    }

    // 2. compare: the same certificate and CA bundle are live already?
    // (Timed from here: it parses the offered certificate, and below checks
    // the offered set when a live one exists.)
    StepTimer compare(report_, cfg_.name, "compare");
    check_project(live, fetched->set);
    const bool same_cert = live.ours_and_valid() &&
                           fingerprint_of(fetched->set.cert_pem) == live.cert->sha256_fingerprint;
    const bool same_ca =
        live.set && sha256_hex(live.set->ca_pem) == sha256_hex(fetched->set.ca_pem);
    if (same_cert && same_ca && !options.force) {
      return settle(live, *fetched, options.dry_run, compare);
    }
    // An API replica that lags behind serves the pair from before the live
    // one: installing it would go back in time, and acknowledging would be
    // wrong. Only this user's own live set can be newer than what upstream
    // serves for it. (A set that is not valid goes on, to fail validation by
    // name.) The offline check made here is the validate-offline step's answer too.
    std::optional<Result<CertInfo>> offered;
    if (live.ours_and_valid() && !options.force) {
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
    switch (live.holding) {
      case Holding::Nothing:
        compare.ok("no live set");
        break;
      case Holding::Foreign:
        compare.warn(
            fmt::format("the set in {} is not this target's ({}): installing the set of "
                        "user \"{}\" through the whole pipeline",
                        output_->describe(), live.problem, cfg_.user));
        break;
      case Holding::Unknown:  // the check ended at inspect
      case Holding::Damaged:
        compare.warn(fmt::format("the set in {} is damaged ({}): installing a whole new one",
                                 output_->describe(), live.problem));
        break;
      case Holding::Ours:
        compare.ok(!live.cert   ? "live set is not valid: " + live.problem
                   : !same_cert ? std::string("a new certificate is available")
                   : !same_ca   ? std::string("the CA bundle changed")
                                : std::string("forced"));
        break;
    }

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
      if (!info) return reject(step.failed(info.error()).error(), options.dry_run);
      candidate = *info;
      step.ok(fmt::format("subject \"{}\", serial {}, not after {}, sha256 {}", candidate.subject,
                          candidate.serial_hex, format_time(candidate.not_after),
                          candidate.sha256_fingerprint));
    }

    // 5. validate live: a real mTLS connection to the brokers with the new set.
    auto checked = validate_against_broker(fetched->set, live);
    if (!checked) {
      return checked.error().kind == ErrorKind::Rejected ? reject(checked.error(), options.dry_run)
                                                         : record_failure(checked.error());
    }

    if (options.dry_run) return record_success(Outcome::Validated, candidate);

    // 6. swap: one ..data rename makes the whole set live at once.
    std::string generation;
    {
      StepTimer step(report_, cfg_.name, "swap");
      auto published = publish(
          fetched->set, candidate,
          PublishedCert::Lineage{fetched->renews_not_after.value_or(""),
                                 live.set ? fingerprint_of(live.set->cert_pem).value_or("") : ""});
      if (!published) return record_failure(step.failed(published.error()).error());
      generation = *published;
      step.ok(output_->describe_version(generation));
    }
    failpoint("after-swap");

    // 7. notify: the apps must know before upstream is told all is well.
    auto notified = notify(candidate, generation, live.apps_may_read());
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
    auto report = record_success(
        *checked == BrokerCheck::Skipped ? Outcome::RotatedUnchecked : Outcome::Rotated, candidate);
    if (report) report->generation = generation;
    return report;
  }

  Result<RotationReport> ensure() {
    StepTimer step(report_, cfg_.name, "inspect");
    const LiveState live = read_live();
    if (live.unreadable) return record_failure(step.failed(*live.unreadable).error());
    if (live.ours_and_valid()) {
      // read_live checked key, chain and expiry; only the minimum remaining
      // validity is left. The full check runs again only when that fails, for
      // its words.
      auto usable = live.cert->not_after > now_ + cfg_.min_remaining
                        ? Result<CertInfo>(*live.cert)
                        : validate_offline(*live.set, offline_policy(), now_);
      if (usable) {
        step.ok(live.summary());
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
    } else if (live.holding == Holding::Foreign) {
      step.warn(fmt::format("{}; installing the set of user \"{}\"", live.summary(), cfg_.user));
    } else {
      step.warn(live.summary());
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
    auto files = output_->read_live(target_.format->file_names());
    if (!files) return files.error().message;
    if (!target_.format->holds(*files, set))
      return fmt::format("the files in {} are not what the configured format writes",
                         output_->describe());
    return output_->attributes_differ(*wanted);
  }

  // Writes `set` as a new generation and makes it live (the swap's write).
  Result<std::string> publish(const CredentialSet& set, const CertInfo& cert,
                              std::optional<PublishedCert::Lineage> lineage = std::nullopt) {
    auto files = target_.format->render(set);
    if (!files) return std::unexpected(files.error());
    auto published = output_->publish(
        *files, {cert.sha256_fingerprint, cert.subject, format_time(cert.not_after),
                 cert.serial_hex, std::move(lineage)});
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
    step.ok(output_->describe_version(*published));
    return published;
  }

  static std::optional<std::string> fingerprint_of(const std::string& cert_pem) {
    auto info = inspect_certificate_pem(cert_pem, "fetched service.cert");
    if (!info) return std::nullopt;
    return info->sha256_fingerprint;
  }

  Result<Fetched> fetch() {
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

  // A reset replaces the pair upstream at once, so it is asked for once per
  // pair: the intent is recorded before the PUT, with the pair upstream served
  // before it, and the reset is done only when another pair is live. A later
  // run installs whatever upstream serves by then, and asks again only while
  // upstream still serves the pair from before.
  Result<Fetched> fetch_after_reset() {
    auto before = fetch();
    if (!before) return before;
    const std::string before_fp =
        before->empty ? "" : fingerprint_of(before->set.cert_pem).value_or("");
    const JournalState& state = journal_.state();
    if (state.reset_requested != 0 && before_fp != state.reset_from) {
      StepTimer(report_, cfg_.name, "reset")
          .skipped(fmt::format("the reset of {} is done upstream: installing its pair, not "
                               "resetting again",
                               format_time(Clock::from_time_t(state.reset_requested))));
      return before;
    }
    if (auto reset = request_reset(before_fp); !reset) return std::unexpected(reset.error());
    auto after = fetch();
    if (!after) return after;
    if (!after->empty && fingerprint_of(after->set.cert_pem) == before_fp) {
      return fail(ErrorKind::Api,
                  "Aiven accepted the reset, but {} still serves the pair from before it (sha256 "
                  "{}): nothing was swapped. The reset is recorded: `certswap rotate` installs "
                  "the new pair once Aiven serves it, without resetting again",
                  after->set.origin, before_fp);
    }
    return after;
  }

  Result<void> request_reset(const std::string& before_fp) {
    StepTimer step(report_, cfg_.name, "reset");
    const std::int64_t earlier = journal_.state().reset_requested;
    // The intent goes down first: an answer lost after Aiven acted must not
    // lead to a second reset.
    auto state = journal_.state();
    state.reset_requested = unix_seconds(now_);
    state.reset_from = before_fp;
    if (auto saved = journal_.save(state); !saved) return step.failed(saved.error());
    auto answer = target_.source->reset_credentials();
    failpoint("after-reset");
    if (!answer) {
      Error error = answer.error();
      if (error.http_status >= 400 && error.http_status < 500) {
        // Refused: Aiven did not act, so no reset is owed.
        auto cleared = journal_.state();
        cleared.reset_requested = 0;
        cleared.reset_from.clear();
        if (auto saved = journal_.save(cleared); !saved) return step.failed(saved.error());
        error.message += "; Aiven refused the reset: the pair is unchanged";
      } else {
        error.message += fmt::format(
            "; Aiven may or may not have made a new pair. The request is recorded: `certswap "
            "rotate` installs whatever Aiven serves now, and --reset-credentials asks again only "
            "while Aiven still serves the pair from before (sha256 {})",
            before_fp);
      }
      return step.failed(std::move(error));
    }
    // What the answer holds exists nowhere else yet: keep it before anything.
    if (!answer->empty) {
      if (auto staged = journal_.stage(answer->set); !staged) return step.failed(staged.error());
    }
    step.ok(fmt::format("{}{}", earlier != 0 ? "asked again: the earlier reset did not take; " : "",
                        answer->empty ? "new pair requested; its answer holds no unredacted pair, "
                                        "so it is read back with a GET"
                                      : "new pair requested; the pair in its answer is staged"));
    return {};
  }

  Result<BrokerCheck> validate_against_broker(const CredentialSet& set, const LiveState& live) {
    // Its own step: the API's time (a GET of the service, once per pass)
    // must not pass for the broker's.
    Result<std::string> bootstrap;
    {
      StepTimer step(report_, cfg_.name, "locate");
      bootstrap = target_.source->bootstrap();
      if (!bootstrap) {
        // Not knowing where the brokers are is no verdict on the set: the
        // same emergency rule as an unreachable broker applies.
        if (within_emergency_window(live) && !stopping()) {
          return emergency(
              step, live,
              fmt::format("the brokers could not be located: {}", bootstrap.error().message));
        }
        return step.failed(bootstrap.error());
      }
      step.ok(*bootstrap);
    }
    StepTimer step(report_, cfg_.name, "validate-live");
    const auto pass = enter(target_.live_gate);
    const LiveResult result = validate_live(set, *bootstrap, cfg_.live_timeout, target_.stopping);
    switch (result.verdict) {
      case LiveVerdict::Accepted: {
        using ms = std::chrono::duration<double, std::milli>;
        const ms setup = result.client_setup;
        step.ok(fmt::format(
            "broker {} accepted the new set: {} (client setup {:.1f} ms, broker {:.1f} ms, "
            "teardown {:.1f} ms)",
            *bootstrap, result.detail, setup.count(), (ms(result.elapsed) - setup).count(),
            ms(result.teardown).count()));
        return BrokerCheck::Accepted;
      }
      case LiveVerdict::Rejected:
        return step.failed(
            {ErrorKind::Rejected, fmt::format("broker {} refused the new set from {}: {}",
                                              *bootstrap, set.origin, result.detail)});
      case LiveVerdict::Inconclusive:
        break;
    }
    const auto why = fmt::format(
        "broker {} could not be reached or gave no verdict "
        "(inconclusive: {})",
        *bootstrap, result.detail);
    if (within_emergency_window(live) && !stopping()) return emergency(step, live, why);
    // The brokers may have moved: the next check is a new pass, which asks
    // upstream where they are (AivenClient's per-pass answers).
    return step.failed(
        {ErrorKind::Inconclusive, why + "; the live set stays until the next attempt"});
  }

  // A check cut short by SIGTERM is no reason to swap unchecked: the next
  // start checks again.
  bool stopping() const { return target_.stopping && target_.stopping(); }

  // Only this target's own valid set can wait for a broker's verdict.
  bool within_emergency_window(const LiveState& live) const {
    const auto live_end = live.ours_and_valid() ? live.cert->not_after : now_;
    return live_end - now_ <= cfg_.emergency_window;
  }

  Result<BrokerCheck> emergency(StepTimer& step, const LiveState& live, const std::string& why) {
    const auto message = fmt::format(
        "{}, but the live set {} — swapping on offline validation alone because the emergency "
        "window is {}h",
        why,
        live.ours_and_valid() ? "expires on " + format_time(live.cert->not_after)
                              : "is missing, invalid or not this target's",
        std::chrono::duration_cast<std::chrono::hours>(cfg_.emergency_window).count());
    spdlog::warn("{}: {}", cfg_.name, message);
    step.emergency(message);
    return BrokerCheck::Skipped;
  }

  // A set that failed validation is not kept: its private key leaves staging
  // now, not at the next success. (A dry run staged nothing and changes nothing.)
  Result<RotationReport> reject(Error error, bool dry_run) {
    if (dry_run) return record_failure(std::move(error));
    if (auto cleared = journal_.clear_staged(); !cleared) {
      spdlog::error("{}: could not remove the rejected set from staging: {}", cfg_.name,
                    cleared.error().message);
    }
    return record_failure(std::move(error));
  }

  // A directory that never held a set has no app reading it, so there is
  // nobody to tell; anywhere else (this user's set, another's, a damaged one)
  // apps may be reading, and the acknowledgement waits for them. Only a
  // notification that was sent, or had nobody to reach, is recorded.
  Result<void> notify(const CertInfo& cert, const std::string& generation, bool apps_may_read) {
    SwapEvent event{cfg_.name, cfg_.output_dir, generation, cert.sha256_fingerprint,
                    format_time(cert.not_after)};
    if (!apps_may_read) {
      StepTimer(report_, cfg_.name, "notify")
          .skipped("first install: the output never held a set, so no app reads it yet");
    } else if (target_.notifiers.empty()) {
      StepTimer(report_, cfg_.name, "notify").skipped("no notifiers configured");
    } else {
      for (auto& notifier : target_.notifiers) {
        StepTimer step(report_, cfg_.name, "notify");
        auto sent = notifier->notify(event);
        if (!sent) return step.failed(sent.error());
        step.ok(notifier->name());
      }
    }
    auto state = journal_.state();
    state.notified_fingerprint = cert.sha256_fingerprint;
    return journal_.save(state);
  }

  // The live set is the one upstream serves. What a run that died, or a
  // changed configuration, may still owe is paid in the pipeline's order:
  // re-render, notify, acknowledge.
  Result<RotationReport> settle(const LiveState& live, const Fetched& fetched, bool dry_run,
                                StepTimer& compare) {
    const CertInfo& cert = *live.cert;
    const auto stale = drift(*live.set);
    compare.ok(stale ? fmt::format("live set is current (sha256 {}), but {}",
                                   cert.sha256_fingerprint, *stale)
                     : fmt::format("live set is current (sha256 {})", cert.sha256_fingerprint));
    if (dry_run) return record_success(Outcome::UpToDate, cert);
    std::string generation = output_->current_generation().value_or("");
    if (stale) {
      auto rendered = rerender(*live.set, cert);
      if (!rendered) return record_failure(rendered.error());
      generation = *rendered;
    }
    // A swap whose notification was lost (crash, app down) still owes it.
    const bool notify_owed =
        stale || journal_.state().notified_fingerprint != cert.sha256_fingerprint;
    if (notify_owed) {
      auto notified = notify(cert, generation, live.apps_may_read());
      if (!notified) return record_failure(notified.error());
    }
    const bool ack_owed = fetched.renewal_pending && target_.source->can_acknowledge();
    if (ack_owed) {
      auto acked = acknowledge(cert);
      if (!acked) return record_failure(acked.error());
    }
    // A run killed after its swap left its tail undone: the generation
    // before the previous one, the staged copy, or a generation that was
    // written but never made live.
    if (auto done = finish(); !done) return record_failure(done.error());
    return record_success(stale      ? Outcome::Rerendered
                          : ack_owed ? Outcome::Acknowledged
                          // "notified" only when an app was told, not for a skip
                          : notify_owed && !target_.notifiers.empty() ? Outcome::Notified
                                                                      : Outcome::UpToDate,
                          cert);
  }

  // The tail of a rotation whose set is live: keep the live generation and
  // the one before it, drop the staged copy, let the source forget its input.
  Result<void> finish() {
    StepTimer step(report_, cfg_.name, "prune");
    auto pruned = output_->prune(cfg_.keep_generations);
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
                                      output_->describe(), expected.sha256_fingerprint)});
    }
    failpoint("before-acknowledge");
    if (target_.may_acknowledge && !target_.may_acknowledge()) {
      return step.failed(
          {ErrorKind::Locked,
           fmt::format("not acknowledging: this replica no longer holds the Lease, so another "
                       "may lead by now; the set is live in {}, and the leader acknowledges it "
                       "once it sees it there",
                       output_->describe())});
    }
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
      // A reset is done once a pair other than the one before it is live.
      if (state.reset_requested != 0 && cert.sha256_fingerprint != state.reset_from) {
        state.reset_requested = 0;
        state.reset_from.clear();
      }
      state.live_fingerprint = cert.sha256_fingerprint;
      if (auto gen = output_->current_generation()) state.live_generation = *gen;
    }
    auto saved = journal_.save(state);
    if (!saved) return std::unexpected(saved.error());
    return RotationReport{outcome, cert, output_->current_generation().value_or("")};
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
  std::unique_ptr<Output> output_;
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
    case Outcome::RotatedUnchecked:
      return "rotated-unchecked";
    case Outcome::Notified:
      return "notified";
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
