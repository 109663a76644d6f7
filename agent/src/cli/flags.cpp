#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "certswap/config.hpp"
#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

Result<void> apply_duration(const std::string& text, auto& out) {
  if (text.empty()) return {};
  auto d = parse_duration(text);
  if (!d) return std::unexpected(d.error());
  out = std::chrono::duration_cast<std::remove_reference_t<decltype(out)>>(*d);
  return {};
}

constexpr const char* kTargetGroup = "Target (one service user; or use --config for several)";
constexpr const char* kNotifyGroup =
    "Notify the apps after a swap (flags form; the config file takes a \"notify\" list)";

}  // namespace

Result<void> check_no_target_flags(const CLI::App& app, const Flags& f,
                                   const std::vector<std::string>& args) {
  if (f.config_file.empty()) return {};
  auto typed = [&](const CLI::Option* opt) {
    return std::ranges::any_of(args, [&](const std::string& arg) {
      for (const auto& name : opt->get_lnames()) {
        const std::string flag = "--" + name;
        if (arg == flag || arg.starts_with(flag + "=")) return true;
      }
      return false;
    });
  };
  std::vector<std::string> ignored;
  for (const CLI::Option* opt : app.get_options()) {
    const auto& group = opt->get_group();
    if (group != kTargetGroup && group != kNotifyGroup) continue;
    if (opt->check_lname("config") || opt->check_lname("target") || opt->count() == 0) continue;
    if (typed(opt)) {
      ignored.push_back(opt->get_name());
    } else {
      // An environment shared with other tools (a ConfigMap) is not a conflict
      // the user typed: say so, and go on with the file.
      spdlog::warn("{} is set but not used: with --config {} the targets come from the file",
                   opt->get_envname(), f.config_file);
    }
  }
  if (ignored.empty()) return {};
  return fail(ErrorKind::Usage,
              "{} would be ignored beside --config {}: the targets come from the file; put the "
              "setting in the file's target, or drop the flag",
              fmt::join(ignored, ", "), f.config_file);
}

void add_target_flags(CLI::App& app, Flags& f) {
  auto* g = kTargetGroup;
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
  app.add_option("--kubernetes-secret", f.target.kubernetes_secret,
                 "NAMESPACE/NAME: write the set to this Kubernetes Secret instead of a directory")
      ->envname("CERTSWAP_KUBERNETES_SECRET")
      ->group(g);
  app.add_option("--kubeconfig", f.kubeconfig,
                 "Kubernetes credentials (default: $KUBECONFIG, the pod's ServiceAccount, "
                 "~/.kube/config)")
      ->envname("CERTSWAP_KUBECONFIG")
      ->group(g);
  app.add_flag("--kubernetes-take-over", f.target.kubernetes_take_over,
               "Write the Secret even if another controller owns it (ownerReferences)")
      ->group(g);
  app.add_option("--kubernetes-operator-keys", f.kubernetes_operator_keys,
                 "Also write the Aiven operator's keys (ACCESS_CERT, ACCESS_KEY, CA_CERT) with "
                 "this prefix (\"-\" for none)")
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
  app.add_option("--privatelink-connection-id", f.target.privatelink_connection_id,
                 "Of several PrivateLink connections, the one to validate against (as avn's; "
                 "implies --kafka-route privatelink)")
      ->envname("CERTSWAP_PRIVATELINK_CONNECTION_ID")
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
  app.add_flag("--pkcs12-jks-truststore", f.target.pkcs12_jks_truststore,
               "Also publish the truststore as avn's client.truststore.jks (automatic when the "
               "output directory holds that name)")
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
  auto* n = kNotifyGroup;
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
  app.add_option("--notify-restart", f.notify_restart,
                 "With --kubernetes-secret: restart deployment/NAME, statefulset/NAME or "
                 "daemonset/NAME (as `kubectl rollout restart`) after a swap; repeatable")
      ->group(n);
  app.add_option("--notify-url", f.notify_url, "URL to POST a JSON event to")
      ->envname("CERTSWAP_NOTIFY_URL")
      ->group(n);
  auto* a = "Aiven API";
  app.add_option("--api-url", f.api_url, "API base URL (default https://api.aiven.io)")
      ->envname("CERTSWAP_API_URL")
      ->group(a);
  app.add_option("--api-ca-file", f.api.ca_file,
                 "CA bundle trusted for the API instead of the system store (e.g. a test emulator)")
      ->envname("CERTSWAP_API_CA_FILE")
      ->group(a);
  app.add_option("--token-file", f.token_file, "File holding the API token (else AIVEN_AUTH_TOKEN)")
      ->envname("CERTSWAP_TOKEN_FILE")
      ->group(a);
  app.add_option("--concurrency", f.concurrency,
                 "API requests in flight at once, across targets (default 8)")
      ->check(CLI::PositiveNumber)
      ->group(a);
  app.add_option("--live-concurrency", f.live_concurrency,
                 "Broker handshakes (live validations) at once, across targets (default 4)")
      ->check(CLI::PositiveNumber)
      ->group(a);
  app.add_option("--api-rate", f.api_rate,
                 "Requests per second the token may send; 0: no limit (default 100)")
      ->check(CLI::NonNegativeNumber)
      ->group(a);
  app.add_option("--api-timeout", f.api_timeout, "Bound of one API request (default 30s)")
      ->envname("CERTSWAP_API_TIMEOUT")
      ->group(a);
  app.add_flag("--api-allow-plain-http", f.api_allow_plain_http,
               "Allow an http:// API URL (a local emulator only: the token is sent in clear)")
      ->envname("CERTSWAP_API_ALLOW_PLAIN_HTTP")
      ->group(a);
  app.add_option("--log-level", f.log_level, "error, warn, info (default) or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->envname("CERTSWAP_LOG_LEVEL");
  app.add_option("--log-format", f.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->envname("CERTSWAP_LOG_FORMAT");
}

Result<Config> build_config(const Flags& f) {
  Config config;
  if (!f.config_file.empty()) {
    auto loaded = load_config_file(f.config_file);
    if (!loaded) return loaded;
    config = std::move(*loaded);
  } else {
    TargetConfig t = f.target;
    t.output_dir = f.output_dir;
    t.state_dir = f.state_dir;
    t.pkcs12_password_file = f.pkcs12_password_file;
    t.inbox_dir = f.inbox_dir;
    t.kubeconfig = f.kubeconfig;
    if (!f.kubernetes_operator_keys.empty()) {
      t.kubernetes_operator_keys =
          f.kubernetes_operator_keys == "-" ? std::string() : f.kubernetes_operator_keys;
    }
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
    if (f.notify_pid > 0 && !f.notify_pid_file.empty()) {
      return fail(ErrorKind::Usage,
                  "--notify-pid and --notify-pid-file both name the process to signal: keep one "
                  "(the pidfile is read again at every notification)");
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
    if (!f.notify_restart.empty()) {
      NotifierConfig restart;
      restart.type = "kubernetes-restart";
      restart.workloads = f.notify_restart;
      t.notifiers.push_back(restart);
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
  if (f.concurrency > 0) config.api.concurrency = f.concurrency;
  if (f.live_concurrency > 0) config.live_concurrency = f.live_concurrency;
  if (f.api_rate >= 0) config.api.rate = f.api_rate;
  if (auto r = apply_duration(f.api_timeout, config.api.total_timeout); !r)
    return std::unexpected(r.error());
  while (!config.api.url.empty() && config.api.url.back() == '/') config.api.url.pop_back();
  // The whole file is checked, whichever target --target picks, and a
  // target's default name is known only once it is finalized.
  if (auto ok = finalize_targets(config.targets); !ok) return std::unexpected(ok.error());
  if (!f.config_file.empty() && !f.target_name.empty()) {
    std::erase_if(config.targets, [&](const TargetConfig& t) { return t.name != f.target_name; });
    if (config.targets.empty()) {
      return fail(ErrorKind::Usage, "no target named \"{}\" in {}", f.target_name, f.config_file);
    }
  }
  return config;
}

}  // namespace certswap::cli
