#pragma once
// The CLI's commands, one file each; main.cpp only parses flags and picks one.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "certswap/aiven_client.hpp"
#include "certswap/config.hpp"
#include "certswap/daemon.hpp"
#include "certswap/error.hpp"
#include "certswap/log_setup.hpp"
#include "certswap/rotation.hpp"
#include "cli/plugin_search_path.hpp"

namespace certswap::cli {

// Flags as typed; turned into a Config once parsing is done.
struct Flags {
  std::string config_file;
  std::string target_name;
  std::string log_format = "text";
  std::string log_level = "info";
  TargetConfig target;
  std::string output_dir, state_dir, pkcs12_password_file, inbox_dir;
  std::string kubeconfig, kubernetes_operator_keys;
  // run: leader election among replicas (a Kubernetes Lease).
  std::string leader_lease, leader_identity, leader_lease_duration = "15s";
  std::string key_mode, public_mode;
  std::string min_remaining, live_timeout, emergency_window, clock_skew, lock_timeout;
  ApiConfig api;
  std::string api_url, token_file, api_timeout;
  bool api_allow_plain_http = false;
  // 0 / negative: unset (the config file's, else the default).
  int concurrency = 0, live_concurrency = 0;
  double api_rate = -1;
  std::string notify_signal, notify_pid_file, notify_exec, notify_url;
  std::vector<std::string> notify_restart;
  int notify_pid = 0;
};

// The flags of one target, its notifiers and the API (flags.cpp).
void add_target_flags(CLI::App& app, Flags& f);
// With --config, the targets come from the file: a target flag typed beside
// it (in `args`) would be ignored, so it is an error; its environment
// variable only gets a warning.
Result<void> check_no_target_flags(const CLI::App& app, const Flags& f,
                                   const std::vector<std::string>& args);
Result<Config> build_config(const Flags& f);

// The first word of `args` (argv without argv[0]) that is neither an option,
// an option's value nor a command: "unknown command 'rotat'; did you mean
// 'rotate'?" (unknown_command.cpp). nullopt when the command line names one.
std::optional<std::string> unknown_command_message(const CLI::App& app,
                                                   const std::vector<std::string>& args);

// Everything one command needs: the API client and one Target per config entry.
struct Agent {
  std::unique_ptr<AivenClient> api;
  std::vector<Target> targets;
};

Result<Agent> build_agent(const Config& config);  // agent_setup.cpp

// Logs the error and gives its exit code (exit_codes.hpp).
int report_error(const Error& e);

int run_rotations(const Flags& flags, bool init_mode, const RotateOptions& options, bool detailed);
// --listen is host:port (or empty: off); checked before the sidecar starts.
Result<void> check_listen_address(const std::string& listen);
int run_sidecar(const Flags& flags, const DaemonOptions& options);
int run_status(const Flags& flags, bool as_json, bool offline);
// Loads and checks --config as the other commands would, then prints its
// targets; reads nothing else and writes nothing.
int run_check_config(const Flags& flags);
int run_validate(const std::string& cert, const std::string& key, const std::string& ca,
                 const std::string& bootstrap, const std::string& timeout_text);

// The no-code-change reload helpers (plugins/preload, plugins/java-agent).
// plugin_locator.cpp: the flag, else CERTSWAP_PRELOAD_LIB / CERTSWAP_JAVA_AGENT,
// else beside the certswap executable; the error names every place tried and
// the flag (exec's and init's) or variable that gives the file.
Result<std::filesystem::path> find_preload_library(const std::string& flag_value);
Result<std::filesystem::path> find_java_agent(const std::string& flag_value);

struct ExecOptions {
  std::string dir, preload, java_agent;
  bool reload_ca = false;
  std::vector<std::string> command;
};
// Replaces the process with the app; returns only on failure (127/126/64).
int run_exec(const Flags& flags, const ExecOptions& options);

struct InitOptions {
  // Set: after init, copy the preload library and the Java agent there ("" is
  // <output dir>/.certswap-reload).
  std::optional<std::string> install_dir;
  std::string preload, java_agent;  // as exec's --preload / --java-agent
};
int run_init(const Flags& flags, const InitOptions& options);

struct DoctorOptions {
  int pid = 0;
  std::string dir, wait = "10s";
  bool json = false;
  std::vector<std::string> command;
};
int run_doctor(const DoctorOptions& options);

}  // namespace certswap::cli
