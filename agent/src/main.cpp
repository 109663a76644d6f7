// certswap: keeps Kafka client certificates fresh without downtime.
// This file only turns flags into a configuration and calls the pipeline
// (rotation.hpp); exit codes come from exit_codes.hpp.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "certswap/aiven_client.hpp"
#include "certswap/cert_info.hpp"
#include "certswap/config.hpp"
#include "certswap/daemon.hpp"
#include "certswap/durable_file.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/journal.hpp"
#include "certswap/live_validator.hpp"
#include "certswap/log_setup.hpp"
#include "certswap/offline_validator.hpp"
#include "certswap/rotation.hpp"
#include "registry.hpp"

namespace certswap {
namespace {

// Flags as typed; turned into a Config once parsing is done.
struct Flags {
  std::string config_file;
  std::string target_name;
  std::string log_format = "text";
  TargetConfig target;
  std::string output_dir, state_dir, pkcs12_password_file, inbox_dir;
  std::string key_mode, public_mode;
  std::string min_remaining, live_timeout, emergency_window, clock_skew, lock_timeout;
  ApiConfig api;
  std::string api_url, token_file, api_timeout;
  bool api_allow_plain_http = false;
  std::string notify_signal, notify_pid_file, notify_exec, notify_url;
  int notify_pid = 0;
};

void add_target_flags(CLI::App& app, Flags& f) {
  auto* g = "Target (one service user; or use --config for several)";
  app.add_option("--config", f.config_file, "JSON config file with one or more targets")
      ->envname("CERTSWAP_CONFIG")
      ->group(g);
  app.add_option("--target", f.target_name, "Only this target of the config file")->group(g);
  app.add_option("--project", f.target.project, "Aiven project")
      ->envname("CERTSWAP_PROJECT")
      ->group(g);
  app.add_option("--service", f.target.service, "Kafka service name")
      ->envname("CERTSWAP_SERVICE")
      ->group(g);
  app.add_option("--user", f.target.user, "Service user")->envname("CERTSWAP_USER")->group(g);
  app.add_option("--output-dir", f.output_dir,
                 "Directory the apps read (ca.pem, service.cert, service.key)")
      ->envname("CERTSWAP_OUTPUT_DIR")
      ->group(g);
  app.add_option("--state-dir", f.state_dir,
                 "Journal and staging (default: <output-dir>/.certswap)")
      ->envname("CERTSWAP_STATE_DIR")
      ->group(g);
  app.add_option("--bootstrap", f.target.bootstrap,
                 "Kafka SSL listener host:port (default: from the API)")
      ->envname("CERTSWAP_BOOTSTRAP")
      ->group(g);
  app.add_option("--kafka-route", f.target.kafka_route,
                 "Which Kafka listener of the service to validate against: dynamic (default, "
                 "as avn), public, private or privatelink")
      ->envname("CERTSWAP_KAFKA_ROUTE")
      ->group(g);
  app.add_option("--source", f.target.source, "aiven (default) or inbox")
      ->envname("CERTSWAP_SOURCE")
      ->group(g);
  app.add_option("--inbox-dir", f.inbox_dir,
                 "inbox source: where ca.pem, service.cert, service.key are dropped")
      ->envname("CERTSWAP_INBOX_DIR")
      ->group(g);
  app.add_option("--format", f.target.format,
                 "pem (default) or pkcs12 (adds client.keystore.p12, client.truststore.p12)")
      ->envname("CERTSWAP_FORMAT")
      ->group(g);
  app.add_option("--pkcs12-password-file", f.pkcs12_password_file,
                 "Password of the PKCS#12 stores (kept across renewals)")
      ->envname("CERTSWAP_PKCS12_PASSWORD_FILE")
      ->group(g);
  app.add_flag("--pkcs12-legacy", f.target.pkcs12_legacy,
               "3DES/SHA-1 PKCS#12 for JVMs older than 8u301")
      ->group(g);
  app.add_option("--key-mode", f.key_mode, "Mode of service.key (default 0600)")->group(g);
  app.add_option("--public-mode", f.public_mode, "Mode of the other files (default 0644)")
      ->group(g);
  app.add_option("--keep-generations", f.target.keep_generations,
                 "Generations kept for rollback (>= 2)")
      ->group(g);
  app.add_option("--min-remaining", f.min_remaining,
                 "Refuse a certificate with less validity left (default 24h)")
      ->group(g);
  app.add_option("--live-timeout", f.live_timeout, "Bound of the broker check (default 10s)")
      ->envname("CERTSWAP_LIVE_TIMEOUT")
      ->group(g);
  app.add_option("--emergency-window", f.emergency_window,
                 "Swap on offline validation alone when the broker is unreachable and the live "
                 "set ends within this (default 7d)")
      ->group(g);
  app.add_option("--clock-skew", f.clock_skew, "Tolerated clock skew (default 5m)")->group(g);
  app.add_option("--lock-timeout", f.lock_timeout,
                 "How long to wait for another certswap writing the same target (default 60s)")
      ->envname("CERTSWAP_LOCK_TIMEOUT")
      ->group(g);
  auto* n = "Notify the apps after a swap (flags form; the config file takes a \"notify\" list)";
  app.add_option("--notify-signal", f.notify_signal, "Signal to send, e.g. SIGHUP")
      ->envname("CERTSWAP_NOTIFY_SIGNAL")
      ->group(n);
  app.add_option("--notify-pid", f.notify_pid, "PID to signal")->group(n);
  app.add_option("--notify-pid-file", f.notify_pid_file,
                 "Pidfile of the process to signal (re-read every time)")
      ->envname("CERTSWAP_NOTIFY_PID_FILE")
      ->group(n);
  app.add_option("--notify-exec", f.notify_exec, "Command to run (split on spaces, no shell)")
      ->envname("CERTSWAP_NOTIFY_EXEC")
      ->group(n);
  app.add_option("--notify-url", f.notify_url, "URL to POST a JSON event to")
      ->envname("CERTSWAP_NOTIFY_URL")
      ->group(n);
  auto* a = "Aiven API";
  app.add_option("--api-url", f.api_url, "API base URL (default https://api.aiven.io)")
      ->envname("CERTSWAP_API_URL")
      ->group(a);
  app.add_option("--api-ca-file", f.api.ca_file,
                 "Extra CA to trust for the API (e.g. a test emulator)")
      ->envname("CERTSWAP_API_CA_FILE")
      ->group(a);
  app.add_option("--token-file", f.token_file, "File holding the API token (else AIVEN_AUTH_TOKEN)")
      ->envname("CERTSWAP_TOKEN_FILE")
      ->group(a);
  app.add_option("--api-timeout", f.api_timeout, "Bound of one API request (default 30s)")
      ->envname("CERTSWAP_API_TIMEOUT")
      ->group(a);
  app.add_flag("--api-allow-plain-http", f.api_allow_plain_http,
               "Allow an http:// API URL (a local emulator only: the token is sent in clear)")
      ->envname("CERTSWAP_API_ALLOW_PLAIN_HTTP")
      ->group(a);
  app.add_option("--log-format", f.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->envname("CERTSWAP_LOG_FORMAT");
}

Result<void> apply_duration(const std::string& text, auto& out) {
  if (text.empty()) return {};
  auto d = parse_duration(text);
  if (!d) return std::unexpected(d.error());
  out = std::chrono::duration_cast<std::remove_reference_t<decltype(out)>>(*d);
  return {};
}

Result<Config> build_config(const Flags& f) {
  Config config;
  if (!f.config_file.empty()) {
    auto loaded = load_config_file(f.config_file);
    if (!loaded) return loaded;
    config = std::move(*loaded);
    if (!f.target_name.empty()) {
      std::erase_if(config.targets, [&](const TargetConfig& t) { return t.name != f.target_name; });
      if (config.targets.empty()) {
        return fail(ErrorKind::Usage, "no target named \"{}\" in {}", f.target_name, f.config_file);
      }
    }
  } else {
    TargetConfig t = f.target;
    t.output_dir = f.output_dir;
    t.state_dir = f.state_dir;
    t.pkcs12_password_file = f.pkcs12_password_file;
    t.inbox_dir = f.inbox_dir;
    for (auto [text, out] :
         {std::pair{&f.key_mode, &t.key_mode}, std::pair{&f.public_mode, &t.public_mode}}) {
      if (text->empty()) continue;
      auto mode = parse_mode(*text);
      if (!mode) return std::unexpected(mode.error());
      *out = *mode;
    }
    for (auto r : {apply_duration(f.min_remaining, t.min_remaining),
                   apply_duration(f.live_timeout, t.live_timeout),
                   apply_duration(f.emergency_window, t.emergency_window),
                   apply_duration(f.clock_skew, t.clock_skew),
                   apply_duration(f.lock_timeout, t.lock_timeout)}) {
      if (!r) return std::unexpected(r.error());
    }
    if (!f.notify_signal.empty() || f.notify_pid > 0 || !f.notify_pid_file.empty()) {
      NotifierConfig signal;
      signal.type = "signal";
      signal.pid = f.notify_pid;
      signal.pid_file = f.notify_pid_file;
      if (!f.notify_signal.empty()) signal.signal = f.notify_signal;
      t.notifiers.push_back(signal);
    }
    if (!f.notify_exec.empty()) {
      NotifierConfig exec;
      exec.type = "exec";
      std::istringstream words(f.notify_exec);
      for (std::string word; words >> word;) exec.command.push_back(word);
      t.notifiers.push_back(exec);
    }
    if (!f.notify_url.empty()) {
      NotifierConfig http;
      http.type = "http";
      http.url = f.notify_url;
      t.notifiers.push_back(http);
    }
    config.targets.push_back(std::move(t));
    config.api = f.api;
  }
  if (!f.api_url.empty()) config.api.url = f.api_url;
  if (f.api_allow_plain_http) config.api.allow_plain_http = true;
  if (!f.api.ca_file.empty()) config.api.ca_file = f.api.ca_file;
  if (!f.token_file.empty()) config.api.token_file = f.token_file;
  if (auto r = apply_duration(f.api_timeout, config.api.total_timeout); !r)
    return std::unexpected(r.error());
  while (!config.api.url.empty() && config.api.url.back() == '/') config.api.url.pop_back();
  for (auto& t : config.targets) {
    auto ok = finalize_target(t);
    if (!ok) return std::unexpected(ok.error());
  }
  return config;
}

// Everything one command needs: the API client and one Target per config entry.
struct Agent {
  std::unique_ptr<AivenClient> api;
  std::vector<Target> targets;
};

Result<Agent> build_agent(const Config& config) {
  Agent agent;
  // An inbox target that names no Aiven user never calls the API.
  const bool needs_api = std::ranges::any_of(
      config.targets, [](const TargetConfig& t) { return t.source != "inbox" || !t.user.empty(); });
  auto token = needs_api ? read_token(config.api) : Result<std::string>(std::string());
  if (!token) return std::unexpected(token.error());
  HttpOptions http;
  http.base_url = config.api.url;
  http.extra_ca_file = config.api.ca_file;
  http.allow_plain_http = config.api.allow_plain_http;
  http.connect_timeout = config.api.connect_timeout;
  http.total_timeout = config.api.total_timeout;
  http.retry = config.api.retry;
  agent.api = std::make_unique<AivenClient>(std::move(http), std::move(*token));
  for (const auto& t : config.targets) {
    Target target;
    target.config = t;
    auto source = plugins::make_source(t, *agent.api);
    if (!source) return std::unexpected(source.error());
    auto format = plugins::make_format(t);
    if (!format) return std::unexpected(format.error());
    auto notifiers = plugins::make_notifiers(t);
    if (!notifiers) return std::unexpected(notifiers.error());
    target.source = std::move(*source);
    target.format = std::move(*format);
    target.notifiers = std::move(*notifiers);
    agent.targets.push_back(std::move(target));
  }
  return agent;
}

int report_error(const Error& e) {
  spdlog::error("{}", e.message);
  return exit_code_for(e.kind);
}

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
    auto result =
        init_mode ? ensure_live(target, reporter, now) : rotate(target, options, reporter, now);
    if (!result) {
      const int code = report_error(result.error());
      if (worst == kExitOk) worst = code;
      continue;
    }
    rotated |= result->outcome == Outcome::Rotated;
    spdlog::info("{}: {} (live: subject \"{}\", not after {}, sha256 {})", target.config.name,
                 to_string(result->outcome), result->live.subject,
                 format_time(result->live.not_after), result->live.sha256_fingerprint);
  }
  if (worst == kExitOk && detailed && rotated) return kExitRotated;
  return worst;
}

int run_sidecar(const Flags& flags, const DaemonOptions& options) {
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  auto agent = build_agent(*config);
  if (!agent) return report_error(agent.error());
  PrintingReporter reporter(flags.log_format == "json" ? LogFormat::Json : LogFormat::Text);
  return run_daemon(agent->targets, options, reporter);
}

int run_status(const Flags& flags, bool as_json, bool offline) {
  auto config = build_config(flags);
  if (!config) return report_error(config.error());
  std::unique_ptr<AivenClient> api;
  if (!offline) {
    auto agent = build_agent(*config);
    if (!agent) return report_error(agent.error());
    api = std::move(agent->api);
  }
  nlohmann::json all = nlohmann::json::array();
  int code = kExitOk;
  for (const auto& t : config->targets) {
    nlohmann::json s{{"target", t.name}, {"output_dir", t.output_dir.string()}};
    auto store = AtomicStore::open_readonly(t.output_dir);
    std::optional<CertInfo> live;
    if (store) {
      s["generation"] = store->current_generation().value_or("");
      auto format = plugins::make_format(t);
      auto files = store->read_live(format ? (*format)->file_names() : std::vector<std::string>{});
      if (files && files->contains("service.cert")) {
        auto info = inspect_certificate_pem(files->at("service.cert"),
                                            t.output_dir.string() + "/service.cert");
        if (info) live = *info;
      }
    }
    if (live) {
      const auto days =
          std::chrono::duration_cast<std::chrono::hours>(live->not_after - Clock::now()).count() /
          24.0;
      s["live"] = {{"subject", live->subject},
                   {"issuer", live->issuer},
                   {"serial", live->serial_hex},
                   {"not_after", format_time(live->not_after)},
                   {"days_left", std::floor(days * 10) / 10},
                   {"sha256", live->sha256_fingerprint}};
    } else {
      s["live"] = nullptr;
      code = kExitInvalid;
    }
    if (auto journal = Journal::read(t.state_dir); journal && *journal) {
      const auto& st = **journal;
      s["journal"] = {{"last_result", st.last_result},   {"last_error", st.last_error},
                      {"last_check", st.last_check},     {"last_rotation", st.last_rotation},
                      {"staged", st.staged_fingerprint}, {"next_check", st.next_check},
                      {"acknowledged", st.acknowledged}};
    }
    if (api) {
      auto user = api->get_user(t.project, t.service, t.user);
      if (user) {
        auto upstream = inspect_certificate_pem(user->access_cert, "access_cert");
        s["upstream"] = {{"sha256", upstream ? upstream->sha256_fingerprint : ""},
                         {"renewal_pending", user->renewal_pending()},
                         {"newer_than_live", upstream && (!live || upstream->sha256_fingerprint !=
                                                                       live->sha256_fingerprint)}};
      } else {
        s["upstream"] = {{"error", user.error().message}};
      }
    }
    all.push_back(s);
  }
  if (as_json) {
    std::puts(all.dump(2).c_str());
    return code;
  }
  for (const auto& s : all) {
    std::fputs(fmt::format("target      {}\noutput      {}\n", s["target"].get<std::string>(),
                           s["output_dir"].get<std::string>())
                   .c_str(),
               stdout);
    if (s["live"].is_null()) {
      std::fputs("live        none or unreadable\n", stdout);
    } else {
      const auto& l = s["live"];
      std::fputs(fmt::format("live        {} (serial {})\nnot after   {} ({} days left)\nsha256    "
                             "  {}\ngeneration  {}\n",
                             l["subject"].get<std::string>(), l["serial"].get<std::string>(),
                             l["not_after"].get<std::string>(), l["days_left"].dump(),
                             l["sha256"].get<std::string>(), s.value("generation", ""))
                     .c_str(),
                 stdout);
    }
    if (s.contains("upstream")) {
      const auto& u = s["upstream"];
      std::fputs(fmt::format("upstream    {}\n", u.contains("error") ? u["error"].get<std::string>()
                                                 : u["newer_than_live"].get<bool>()
                                                     ? "a newer certificate is available"
                                                 : u["renewal_pending"].get<bool>()
                                                     ? "current; renewal not yet acknowledged"
                                                     : "current")
                     .c_str(),
                 stdout);
    }
    if (s.contains("journal")) {
      const auto& j = s["journal"];
      std::fputs(fmt::format("last result {}{}\n", j["last_result"].get<std::string>(),
                             j["last_error"].get<std::string>().empty()
                                 ? ""
                                 : ": " + j["last_error"].get<std::string>())
                     .c_str(),
                 stdout);
    }
  }
  return code;
}

// Paths a person typed: links are followed (the live layout is all links).
Result<std::string> read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::Usage, "cannot read {} {}", what, path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int run_validate(const std::string& cert, const std::string& key, const std::string& ca,
                 const std::string& bootstrap, const std::string& timeout_text, LogFormat format) {
  PrintingReporter reporter(format);
  CredentialSet set;
  for (auto [path, field, what] : {std::tuple<const std::string*, std::string*, const char*>{
                                       &cert, &set.cert_pem, "certificate"},
                                   {&key, &set.key_pem, "key"},
                                   {&ca, &set.ca_pem, "CA"}}) {
    auto text = read_text(*path, what);
    if (!text) return report_error(text.error());
    *field = std::move(*text);
  }
  set.origin = fmt::format("--cert {} --key {} --ca {}", cert, key, ca);
  auto started = std::chrono::steady_clock::now();
  auto info = validate_offline(
      set, OfflinePolicy{std::chrono::seconds(300), std::chrono::seconds(0)}, Clock::now());
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (!info) {
    reporter.step("validate", "validate-offline", to_string(info.error().kind), took,
                  info.error().message);
    return exit_code_for(info.error().kind);
  }
  reporter.step("validate", "validate-offline", "ok", took,
                fmt::format("subject \"{}\", issuer \"{}\", not after {}, sha256 {}", info->subject,
                            info->issuer, format_time(info->not_after), info->sha256_fingerprint));
  if (bootstrap.empty()) return kExitOk;
  auto timeout = parse_duration(timeout_text);
  if (!timeout) return report_error(timeout.error());
  const LiveResult live = validate_live(set, bootstrap, *timeout);
  reporter.step("validate", "validate-live", to_string(live.verdict), live.elapsed,
                fmt::format("{}: {}", bootstrap, live.detail));
  switch (live.verdict) {
    case LiveVerdict::Accepted:
      return kExitOk;
    case LiveVerdict::Rejected:
      return kExitInvalid;
    case LiveVerdict::Inconclusive:
      return kExitInconclusive;
  }
  return kExitFailure;
}

}  // namespace
}  // namespace certswap

int main(int argc, char** argv) {
  using namespace certswap;
  CLI::App app{"certswap: keeps Kafka client certificates fresh without downtime"};
  app.require_subcommand(1);
  Flags flags;
  add_target_flags(app, flags);
  app.fallthrough();

  auto* rotate_cmd =
      app.add_subcommand("rotate", "One full cycle: fetch, validate, swap, notify, acknowledge");
  RotateOptions rotate_options;
  bool detailed = false;
  auto* dry_run_flag = rotate_cmd->add_flag("--dry-run", rotate_options.dry_run,
                                            "Fetch and validate; change nothing");
  rotate_cmd->add_flag("--force", rotate_options.force, "Swap even if the live set is the same");
  rotate_cmd
      ->add_flag("--reset-credentials", rotate_options.reset_credentials,
                 "Ask Aiven for a new certificate and key first, then rotate to them (not with "
                 "--dry-run: a reset is never a dry run)")
      ->excludes(dry_run_flag);
  rotate_cmd->add_flag("--detailed-exitcode", detailed,
                       "Exit 2 when a new set went live, 0 when nothing changed");

  auto* init_cmd =
      app.add_subcommand("init", "Init-container mode: make sure a valid set is live, then exit");

  auto* run_cmd =
      app.add_subcommand("run", "Sidecar / service mode: keep every target fresh until SIGTERM");
  DaemonOptions daemon_options;
  std::string poll_interval, renewal_poll_interval, danger_window;
  run_cmd
      ->add_option("--poll-interval", poll_interval,
                   "How often to ask the API (default 10m, ±10% jitter)")
      ->envname("CERTSWAP_POLL_INTERVAL");
  run_cmd->add_option("--renewal-poll-interval", renewal_poll_interval,
                      "Polling while the live certificate is in its last 100 days (default 2m)");
  run_cmd->add_option("--danger-window", danger_window,
                      "/readyz fails when a certificate ends within this (default 7d)");
  run_cmd
      ->add_option("--listen", daemon_options.listen,
                   "host:port of /healthz, /readyz, /metrics; empty: off (default 127.0.0.1:9464)")
      ->envname("CERTSWAP_LISTEN");
  run_cmd->add_flag("--enable-rotate-endpoint", daemon_options.rotate_endpoint,
                    "Accept POST /rotate (check now)");

  auto* status_cmd =
      app.add_subcommand("status", "Show the live set, the journal and what upstream holds");
  bool status_json = false, status_offline = false;
  status_cmd->add_flag("--json", status_json, "Machine-readable output");
  status_cmd->add_flag("--offline", status_offline, "Don't ask the API");

  auto* validate_cmd = app.add_subcommand(
      "validate", "Validate a certificate, key and CA (and optionally a broker connection)");
  std::string cert, key, ca, bootstrap, live_timeout = "10s";
  validate_cmd->add_option("--cert", cert, "Client certificate (PEM)")
      ->required()
      ->check(CLI::ExistingFile);
  validate_cmd->add_option("--key", key, "Private key (PEM)")->required()->check(CLI::ExistingFile);
  validate_cmd->add_option("--ca", ca, "CA bundle (PEM)")->required()->check(CLI::ExistingFile);
  validate_cmd->add_option("--bootstrap", bootstrap,
                           "Also connect to this broker (host:port) with the set");
  validate_cmd->add_option("--timeout", live_timeout,
                           "Bound of the broker connection (default 10s)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  const LogFormat log_format = flags.log_format == "json" ? LogFormat::Json : LogFormat::Text;
  setup_logging(log_format);

  if (*rotate_cmd) return run_rotations(flags, false, rotate_options, detailed);
  if (*run_cmd) {
    for (auto [text, out] :
         {std::pair{&poll_interval, &daemon_options.poll_interval},
          std::pair{&renewal_poll_interval, &daemon_options.renewal_poll_interval},
          std::pair{&danger_window, &daemon_options.danger_window}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d) return report_error(d.error());
      *out = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
    return run_sidecar(flags, daemon_options);
  }
  if (*init_cmd) return run_rotations(flags, true, RotateOptions{}, false);
  if (*status_cmd) return run_status(flags, status_json, status_offline);
  if (*validate_cmd) return run_validate(cert, key, ca, bootstrap, live_timeout, log_format);
  return kExitUsage;
}
