// certswap: keeps Kafka client certificates fresh without downtime.
// This file only declares the commands and their flags and calls one of
// them (cli/*.cpp); exit codes come from exit_codes.hpp.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <tuple>

#include "certswap/config.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/log_setup.hpp"
#include "certswap/version.hpp"
#include "cli/cli.hpp"

// --log-format json (or CERTSWAP_LOG_FORMAT=json) as the parser will read it,
// known before the parser runs.
static bool asks_for_json(int argc, char** argv) {
  std::string_view format;
  if (const char* env = std::getenv("CERTSWAP_LOG_FORMAT")) format = env;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--log-format" && i + 1 < argc) format = argv[i + 1];
    if (arg.starts_with("--log-format=")) format = arg.substr(13);
  }
  return format == "json";
}

int main(int argc, char** argv) {
  using namespace certswap;
  using namespace certswap::cli;
  using namespace std::chrono_literals;
  CLI::App app{"certswap: keeps Kafka client certificates fresh without downtime"};
  app.require_subcommand(1);
  Flags flags;
  add_target_flags(app, flags);
  app.fallthrough();
  // fallthrough(): `certswap rotate --version` reaches this flag too.
  app.set_version_flag(
      "--version",
      [] {
        auto text = version_text();
        text.pop_back();
        return text;
      },
      "Print the version, the commit and the libraries' versions, then exit");
  auto* version_cmd =
      app.add_subcommand("version", "Print the version, the commit and the libraries' versions");

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
  std::string install_dir;
  InitOptions init_options;
  auto* install_opt =
      init_cmd
          ->add_option("--install-preload", install_dir,
                       "Then copy the preload library (and the Java agent) into DIR (default "
                       "<output-dir>/.certswap-reload)")
          ->expected(0, 1);
  init_cmd
      ->add_option("--preload", init_options.preload,
                   "With --install-preload: path of libcertswap-preload.so (else "
                   "$CERTSWAP_PRELOAD_LIB, else next to certswap)")
      ->needs(install_opt);
  init_cmd
      ->add_option("--java-agent", init_options.java_agent,
                   "With --install-preload: path of certswap-agent.jar (else "
                   "$CERTSWAP_JAVA_AGENT, else next to certswap)")
      ->needs(install_opt);

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
  run_cmd
      ->add_option("--leader-lease", flags.leader_lease,
                   "NAMESPACE/NAME: replicas elect one writer with this Kubernetes Lease")
      ->envname("CERTSWAP_LEADER_LEASE");
  run_cmd
      ->add_option("--leader-identity", flags.leader_identity,
                   "This replica's name in the Lease (default: $POD_NAME, else the host name)")
      ->envname("CERTSWAP_LEADER_IDENTITY");
  run_cmd->add_option("--leader-lease-duration", flags.leader_lease_duration,
                      "How long a silent leader keeps the Lease (default 15s)");

  auto* status_cmd =
      app.add_subcommand("status", "Show the live set, the journal and what upstream holds");
  bool status_json = false, status_offline = false;
  status_cmd->add_flag("--json", status_json, "Machine-readable output");
  status_cmd->add_flag("--offline", status_offline, "Don't ask the API");

  auto* check_config_cmd = app.add_subcommand(
      "check-config", "Check a --config file without running it (no token, network or writes)");

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

  auto* exec_cmd = app.add_subcommand(
      "exec", "Run an app with the preload library / Java agent that reload the certificate");
  ExecOptions exec_options;
  exec_cmd->add_option("--dir", exec_options.dir,
                       "certswap output directory the app reads (default: the configured one)");
  exec_cmd->add_option("--preload", exec_options.preload,
                       "Path of libcertswap-preload.so (else $CERTSWAP_PRELOAD_LIB, else next to "
                       "certswap)");
  exec_cmd->add_option("--java-agent", exec_options.java_agent,
                       "Path of certswap-agent.jar (else $CERTSWAP_JAVA_AGENT, else next to "
                       "certswap); given, the command is a JVM or starts one (a launcher script)");
  exec_cmd->add_flag("--reload-ca", exec_options.reload_ca, "Also follow CA bundle changes");
  exec_cmd->add_option("command", exec_options.command, "-- app args...")->required();

  auto* doctor_cmd =
      app.add_subcommand("doctor", "Tell whether hot reload will work for a process (read-only)");
  DoctorOptions doctor_options;
  auto* pid_opt = doctor_cmd->add_option("--pid", doctor_options.pid, "Process to inspect");
  doctor_cmd->add_option("--dir", doctor_options.dir,
                         "The output directory the process should reload from: checked "
                         "against its CERTSWAP_RELOAD_DIR");
  doctor_cmd->add_option("--wait", doctor_options.wait,
                         "With -- cmd: how long to wait for it to load its TLS library (10s)");
  doctor_cmd->add_flag("--json", doctor_options.json, "Machine-readable output");
  doctor_cmd->add_option("command", doctor_options.command, "-- cmd args... (instead of --pid)")
      ->excludes(pid_opt);

  // Before parsing, so that a usage error is a record of the format asked for.
  setup_logging(asks_for_json(argc, argv) ? LogFormat::Json : LogFormat::Text);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (auto unknown = unknown_command_message(app, args)) {
    log_failure({ErrorKind::Usage, *unknown + "; run with --help for more information"},
                kExitUsage);
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    log_failure(
        {ErrorKind::Usage, fmt::format("{}; run with --help for more information", e.what())},
        kExitUsage);
    return kExitUsage;
  }
  const LogFormat log_format = flags.log_format == "json" ? LogFormat::Json : LogFormat::Text;
  setup_logging(log_format, *parse_log_level(flags.log_level));
  if (*version_cmd) {
    fmt::print("{}", version_text());
    return 0;
  }
  if (!*validate_cmd) {
    auto alone = check_no_target_flags(app, flags, args);
    if (!alone) return report_error(alone.error());
  }

  if (*rotate_cmd) return run_rotations(flags, false, rotate_options, detailed);
  if (*run_cmd) {
    for (auto [text, out, polling] :
         {std::tuple{&poll_interval, &daemon_options.poll_interval, true},
          std::tuple{&renewal_poll_interval, &daemon_options.renewal_poll_interval, true},
          std::tuple{&danger_window, &daemon_options.danger_window, false}}) {
      if (text->empty()) continue;
      auto d = parse_duration(*text);
      if (!d) return report_error(d.error());
      // The loop counts in seconds: "500ms" must not become a busy loop of 0 s.
      if (polling && (*d < std::chrono::seconds(1) || *d % std::chrono::seconds(1) != 0ms))
        return report_error(
            {ErrorKind::Usage,
             fmt::format("poll interval \"{}\": whole seconds, at least 1s", *text)});
      *out = std::chrono::duration_cast<std::chrono::seconds>(*d);
    }
    if (auto listen = check_listen_address(daemon_options.listen); !listen)
      return report_error(listen.error());
    return run_sidecar(flags, daemon_options);
  }
  if (*init_cmd) {
    if (install_opt->count()) init_options.install_dir = install_dir;
    return run_init(flags, init_options);
  }
  if (*exec_cmd) return run_exec(flags, exec_options);
  if (*doctor_cmd) return run_doctor(doctor_options);
  if (*status_cmd) return run_status(flags, status_json, status_offline);
  if (*check_config_cmd) return run_check_config(flags);
  if (*validate_cmd) return run_validate(cert, key, ca, bootstrap, live_timeout);
  return kExitUsage;
}
