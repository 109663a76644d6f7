#pragma once
// What the agent manages: one API, several targets (service user x output dir).
// Built from flags and env vars for one target, or from a JSON file for many.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "certswap/error.hpp"
#include "certswap/http_client.hpp"

namespace certswap {

struct ApiConfig {
  std::string url = "https://api.aiven.io";
  std::string ca_file;  // trusted instead of the system store (e.g. the test bed emulator)
  std::filesystem::path token_file;  // preferred over the AIVEN_AUTH_TOKEN env var
  bool allow_plain_http = false;     // see HttpOptions::allow_plain_http
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{30'000};
  RetryPolicy retry;
  // The token's rate budget (api_budget.hpp), requests per second; 0: none.
  // 100/s: Aiven publishes no limit; this lets a sidecar check 1,000 targets
  // in about 10 s and still spreads a burst (a SIGHUP of all of them) over
  // seconds, and a 429 with Retry-After slows it further.
  double rate = 100;
  int concurrency = 8;  // API requests in flight at once
};

// How the apps learn about a new set (plugins/notifiers/*).
struct NotifierConfig {
  std::string type;                  // "signal", "exec" or "http"
  int pid = 0;                       // signal: a fixed PID, or
  std::filesystem::path pid_file;    // signal: re-read at every notification
  std::string signal = "SIGHUP";     // signal
  std::vector<std::string> command;  // exec: argv, no shell
  // exec: variables passed from the agent's environment besides PATH (the
  // command gets no other, so the API token never reaches it).
  std::vector<std::string> env_pass;
  std::string url;  // http: POST target
  // kubernetes-restart: "deployment/NAME", "statefulset/NAME" or
  // "daemonset/NAME" in the target Secret's namespace.
  std::vector<std::string> workloads;
  std::chrono::milliseconds timeout{30'000};
};

struct TargetConfig {
  std::string name;  // for logs and metrics; defaults to project/service/user
  std::string project, service, user;
  std::filesystem::path output_dir;
  std::filesystem::path state_dir;  // default: <output_dir>/.certswap
  // "NAMESPACE/NAME": the apps read the set from this Kubernetes Secret
  // instead of an output directory (plugins/outputs/kubernetes_secret).
  std::string kubernetes_secret;
  std::filesystem::path kubeconfig;   // none: $KUBECONFIG, the pod's account, ~/.kube/config
  bool kubernetes_take_over = false;  // write a Secret that another controller owns
  // Also the Aiven operator's keys, with this prefix (ACCESS_CERT, ...).
  std::optional<std::string> kubernetes_operator_keys;
  std::string bootstrap;  // overrides the address the API reports
  // Which of the service's Kafka listeners to validate against: "dynamic" (as
  // avn, the default), "public", "private" or "privatelink".
  std::string kafka_route = "dynamic";
  // Of a service with several PrivateLink connections, the one to validate
  // against (avn's --privatelink-connection-id); implies route "privatelink".
  std::string privatelink_connection_id;
  std::string source = "aiven";
  std::string format = "pem";
  std::vector<NotifierConfig> notifiers;
  std::filesystem::path inbox_dir;             // source "inbox"
  std::filesystem::path pkcs12_password_file;  // format "pkcs12"
  bool pkcs12_legacy = false;                  // 3DES + SHA-1 MAC for old JVMs
  // Also publish the truststore as avn's client.truststore.jks (what
  // `avn service user-kafka-java-creds` writes and its client.properties
  // names), so apps configured by avn see the next project CA. Switched on by
  // itself when the output directory already holds that name (registry.cpp).
  bool pkcs12_jks_truststore = false;
  mode_t key_mode = 0600;
  mode_t public_mode = 0644;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  int keep_generations = 2;
  std::chrono::seconds clock_skew{300};
  std::chrono::seconds min_remaining{std::chrono::hours(24)};
  std::chrono::milliseconds live_timeout{10'000};
  // How long a writer waits for another one on the same target (writer_lock.hpp).
  std::chrono::milliseconds lock_timeout{60'000};
  // When the broker can't be reached and the live certificate ends within this
  // window, an offline-valid set is swapped anyway (and said loudly).
  std::chrono::seconds emergency_window{std::chrono::hours(24 * 7)};
};

struct Config {
  ApiConfig api;
  int live_concurrency = 4;  // broker handshakes at once, across targets
  std::vector<TargetConfig> targets;
};

// "90s", "10m", "24h", "7d", "500ms"; a bare number is seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
Result<mode_t> parse_mode(std::string_view text);  // octal, e.g. "0640"

// Refuses a key it does not know (naming its path in the file and the
// closest known key), a value of the wrong type, and a syntax error (with
// its line and column).
Result<Config> load_config_file(const std::filesystem::path& path);

// Fills defaults that depend on other fields and checks what is required and
// the key mode (a group may read the key, with a warning; no one else).
Result<void> finalize_target(TargetConfig& target);
// Each target, then what only the set shows: two targets writing one output or
// state directory.
Result<void> finalize_targets(std::vector<TargetConfig>& targets);

// The token comes from a file or the environment, never from argv; the
// blanks around it are dropped.
Result<std::string> read_token(const ApiConfig& api);

}  // namespace certswap
