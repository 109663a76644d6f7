#include "certswap/metrics.hpp"

#include <fmt/format.h>

#include <chrono>
#include <regex>

#include "certswap/version.hpp"

namespace certswap {
namespace {

std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Metrics::step(std::string_view target, std::string_view step, std::string_view status,
                   std::chrono::microseconds took, std::string_view detail) {
  {
    std::lock_guard lock(mutex_);
    auto& t = targets_[std::string(target)];
    if (step == "validate-offline" || step == "validate-live") {
      if (status != "skipped") {
        const std::string outcome =
            status == "ok" ? (step == "validate-live" ? "accepted" : "valid") : std::string(status);
        ++t.validations[{std::string(step), outcome}];
      }
    } else if (step == "acknowledge" && status == "ok") {
      ++t.acknowledgements;
      t.renewal_pending = t.renewal_live_unacknowledged = 0;
    } else if (step == "fetch" && status == "ok") {
      // rotation.cpp's fetch line ends so when upstream holds a renewal.
      t.renewal_pending = detail.ends_with("(renewal pending)") ? 1 : 0;
      if (!t.renewal_pending) t.renewal_live_unacknowledged = 0;
    } else if ((step == "swap" && status == "ok") ||
               (step == "compare" && status == "ok" && detail.starts_with("live set is current"))) {
      // The renewal is what the apps read now; only its acknowledgement is owed.
      if (t.renewal_pending) t.renewal_live_unacknowledged = 1;
      if (step == "swap") {
        ++t.rotations;
        t.last_rotation = now_seconds();
      }
    } else if (step == "check") {
      t.failed_checks_in_a_row = status == "ok" ? 0 : t.failed_checks_in_a_row + 1;
    } else if (step == "notify" && status != "ok" && status != "skipped") {
      ++t.notification_failures;
    }
    if (status == "api") {
      static const std::regex http_status("HTTP ([0-9]{3})");
      std::match_results<std::string_view::const_iterator> m;
      std::string code = "transport";
      if (std::regex_search(detail.begin(), detail.end(), m, http_status)) code = m[1].str();
      ++t.api_errors[code];
    }
  }
  next_.step(target, step, status, took, detail);
}

void Metrics::set_not_after(const std::string& target, std::int64_t unix_seconds) {
  std::lock_guard lock(mutex_);
  targets_[target].not_after = unix_seconds;
}

void Metrics::set_last_check(const std::string& target, std::int64_t unix_seconds, bool success) {
  std::lock_guard lock(mutex_);
  auto& t = targets_[target];
  t.last_check = unix_seconds;
  if (success) t.last_success = unix_seconds;
}

void Metrics::set_ready(const std::string& target, bool ready) {
  std::lock_guard lock(mutex_);
  targets_[target].ready = ready;
}

void Metrics::restore(const std::string& target, std::int64_t last_rotation,
                      std::int64_t last_success) {
  std::lock_guard lock(mutex_);
  auto& t = targets_[target];
  if (t.last_rotation == 0) t.last_rotation = last_rotation;
  if (t.last_success == 0) t.last_success = last_success;
}

void Metrics::count_notification_failure(const std::string& target) {
  std::lock_guard lock(mutex_);
  ++targets_[target].notification_failures;
}

bool Metrics::all_ready() const {
  std::lock_guard lock(mutex_);
  if (targets_.empty()) return false;
  for (const auto& [name, t] : targets_) {
    if (!t.ready) return false;
  }
  return true;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto&& value_of) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& [target, t] : targets_) value_of(target, t);
  };
  auto gauge = [&](const char* name, const char* help, auto field) {
    family(name, "gauge", help, [&](const std::string& target, const PerTarget& t) {
      out += fmt::format("{}{{target=\"{}\"}} {}\n", name, label(target), t.*field);
    });
  };
  gauge("certswap_certificate_not_after_seconds", "End of the live certificate (unix seconds).",
        &PerTarget::not_after);
  gauge("certswap_last_check_timestamp_seconds", "Last check of the target, successful or not.",
        &PerTarget::last_check);
  gauge("certswap_last_success_timestamp_seconds", "Last successful check of the target.",
        &PerTarget::last_success);
  gauge("certswap_last_rotation_timestamp_seconds", "Last swap of a new set.",
        &PerTarget::last_rotation);
  gauge("certswap_renewal_pending",
        "1 while upstream holds a renewal that is not acknowledged (as the last check saw it).",
        &PerTarget::renewal_pending);
  gauge("certswap_renewal_live_unacknowledged",
        "1 while the renewal is live but its acknowledgement is still owed.",
        &PerTarget::renewal_live_unacknowledged);
  gauge("certswap_consecutive_failed_checks", "Checks that failed in a row (0 after a success).",
        &PerTarget::failed_checks_in_a_row);
  family("certswap_ready", "gauge", "1 when a valid live set is outside the danger window.",
         [&](const std::string& target, const PerTarget& t) {
           out +=
               fmt::format("certswap_ready{{target=\"{}\"}} {}\n", label(target), t.ready ? 1 : 0);
         });
  auto counter = [&](const char* name, const char* help, auto field) {
    family(name, "counter", help, [&](const std::string& target, const PerTarget& t) {
      out += fmt::format("{}{{target=\"{}\"}} {}\n", name, label(target), t.*field);
    });
  };
  counter("certswap_rotations_total", "New sets swapped live.", &PerTarget::rotations);
  counter("certswap_acknowledgements_total", "Renewals acknowledged upstream.",
          &PerTarget::acknowledgements);
  counter("certswap_notification_failures_total", "Notifications that failed.",
          &PerTarget::notification_failures);
  family("certswap_validations_total", "counter", "Validations by stage and outcome.",
         [&](const std::string& target, const PerTarget& t) {
           for (const auto& [key, n] : t.validations) {
             out += fmt::format(
                 "certswap_validations_total{{target=\"{}\",stage=\"{}\",outcome=\"{}\"}} {}\n",
                 label(target), key.first, key.second, n);
           }
         });
  family("certswap_api_errors_total", "counter", "Aiven API errors by HTTP status.",
         [&](const std::string& target, const PerTarget& t) {
           for (const auto& [status, n] : t.api_errors) {
             out += fmt::format("certswap_api_errors_total{{target=\"{}\",status=\"{}\"}} {}\n",
                                label(target), status, n);
           }
         });
  if (budget_) render_budget(out, budget_->stats());
  const auto& b = build_info();
  out += fmt::format(
      "# HELP certswap_build_info The running certswap and the libraries it found (always 1).\n"
      "# TYPE certswap_build_info gauge\n"
      "certswap_build_info{{version=\"{}\",commit=\"{}\",openssl=\"{}\",librdkafka=\"{}\","
      "libcurl=\"{}\"}} 1\n",
      label(b.version), label(b.commit), label(b.openssl), label(b.librdkafka), label(b.libcurl));
  return out;
}

void Metrics::watch_budget(std::shared_ptr<const ApiBudget> budget) {
  std::lock_guard lock(mutex_);
  budget_ = std::move(budget);
}

// One budget per token, and the agent has one token: no label.
void Metrics::render_budget(std::string& out, const ApiBudget::Stats& b) {
  auto one = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  one("certswap_api_budget_tokens", "gauge", "Requests the token may send now without waiting.",
      b.tokens);
  one("certswap_api_budget_rate", "gauge", "Requests per second the token may send (0: no limit).",
      b.rate);
  one("certswap_api_in_flight", "gauge", "API requests on the wire now.", b.in_flight);
  one("certswap_api_max_in_flight", "gauge", "The bound of API requests at once (--concurrency).",
      b.max_in_flight);
  one("certswap_api_peak_in_flight", "gauge", "The most API requests at once so far.",
      b.peak_in_flight);
  one("certswap_api_requests_total", "counter", "API requests sent under the budget.", b.requests);
  one("certswap_api_budget_waits_total", "counter",
      "API requests that waited for the budget (rate, bound or pause).", b.waits);
  one("certswap_api_pauses_total", "counter",
      "429 answers with Retry-After that paused every target of the token.", b.pauses);
  one("certswap_api_paused_seconds", "gauge", "Left of the current pause (0: not paused).",
      std::chrono::duration<double>(b.paused_for).count());
}

}  // namespace certswap
