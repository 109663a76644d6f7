#include "certswap/config.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "certswap/aiven_response.hpp"
#include "config_schema.hpp"

namespace certswap {

using nlohmann::json;

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  long long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || value < 0) {
    return fail(ErrorKind::Usage, "\"{}\" is not a duration (use e.g. 30s, 10m, 24h, 7d)", text);
  }
  const std::string_view unit(ptr, text.data() + text.size() - ptr);
  using namespace std::chrono;
  // A century is longer than any setting needs, and keeps every conversion in range.
  constexpr long long kCenturyMs = 100LL * 366 * 24 * 3600 * 1000;
  const long long per_unit = unit == "ms"                  ? 1
                             : unit.empty() || unit == "s" ? 1000
                             : unit == "m"                 ? 60'000
                             : unit == "h"                 ? 3'600'000
                             : unit == "d"                 ? 86'400'000
                                                           : 0;
  if (per_unit != 0 && value > kCenturyMs / per_unit) {
    return fail(ErrorKind::Usage, "\"{}\" is longer than a century", text);
  }
  if (unit == "ms") return milliseconds(value);
  if (unit.empty() || unit == "s") return duration_cast<milliseconds>(seconds(value));
  if (unit == "m") return duration_cast<milliseconds>(minutes(value));
  if (unit == "h") return duration_cast<milliseconds>(hours(value));
  if (unit == "d") return duration_cast<milliseconds>(hours(24 * value));
  return fail(ErrorKind::Usage, "\"{}\": unknown duration unit \"{}\" (ms, s, m, h, d)", text,
              unit);
}

Result<mode_t> parse_mode(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value > 07777) {
    return fail(ErrorKind::Usage, "\"{}\" is not an octal file mode (e.g. 0640)", text);
  }
  return static_cast<mode_t>(value);
}

namespace {

// Where a key sits in the file, e.g. targets[0].notify[1].pid_file.
std::string key_path(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : fmt::format("{}.{}", where, key);
}

// JSON numbers may be floats or out of range: converting those is undefined
// behaviour, so only an integer that fits is taken.
template <typename T>
Result<void> read_integer(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  if (v.is_number_unsigned() && std::in_range<T>(v.get<std::uint64_t>())) {
    out = static_cast<T>(v.get<std::uint64_t>());
  } else if (v.is_number_integer() && std::in_range<T>(v.get<std::int64_t>())) {
    out = static_cast<T>(v.get<std::int64_t>());
  } else {
    return fail(ErrorKind::Usage, "{}: must be a whole number in range, not {}",
                key_path(where, key), v.dump());
  }
  return {};
}

Result<void> read_duration(const json& j, const char* key, std::chrono::milliseconds& out,
                           const std::string& where) {
  if (!j.contains(key)) return {};
  auto d = parse_duration(j[key].get<std::string>());
  if (!d) return fail(ErrorKind::Usage, "{}: {}", key_path(where, key), d.error().message);
  out = *d;
  return {};
}

Result<void> read_seconds(const json& j, const char* key, std::chrono::seconds& out,
                          const std::string& where) {
  std::chrono::milliseconds ms = out;
  auto r = read_duration(j, key, ms, where);
  if (!r) return r;
  out = std::chrono::duration_cast<std::chrono::seconds>(ms);
  return {};
}

// The types below were checked by check_config_schema.
Result<NotifierConfig> parse_notifier(const json& j, const std::string& where) {
  if (!j.contains("type")) {
    return fail(ErrorKind::Usage,
                "{}: a notifier needs a \"type\" (signal, exec, http or kubernetes-restart)",
                where);
  }
  NotifierConfig n;
  n.type = j["type"].get<std::string>();
  if (auto r = read_integer(j, "pid", n.pid, where); !r) return std::unexpected(r.error());
  if (j.contains("pid") && j.contains("pid_file")) {
    return fail(ErrorKind::Usage,
                "{}: \"pid\" and \"pid_file\" both name the process to signal: keep one "
                "(pid_file is read again at every notification)",
                where);
  }
  n.pid_file = j.value("pid_file", "");
  n.signal = j.value("signal", n.signal);
  n.url = j.value("url", "");
  n.workloads = j.value("workloads", n.workloads);
  n.command = j.value("command", n.command);
  n.env_pass = j.value("env_pass", n.env_pass);
  if (!std::ranges::all_of(n.env_pass, [](const std::string& name) {
        return !name.empty() && !name.contains('=');
      })) {
    return fail(ErrorKind::Usage, "{}: must be a list of variable names, e.g. [\"HOME\", \"LANG\"]",
                key_path(where, "env_pass"));
  }
  if (auto r = read_duration(j, "timeout", n.timeout, where); !r) return std::unexpected(r.error());
  return n;
}

Result<TargetConfig> parse_target(const json& j, const std::string& where) {
  TargetConfig t;
  for (auto [key, out] :
       {std::pair{"name", &t.name}, std::pair{"project", &t.project},
        std::pair{"service", &t.service}, std::pair{"user", &t.user},
        std::pair{"bootstrap", &t.bootstrap}, std::pair{"kafka_route", &t.kafka_route},
        std::pair{"privatelink_connection_id", &t.privatelink_connection_id},
        std::pair{"source", &t.source}, std::pair{"format", &t.format},
        std::pair{"kubernetes_secret", &t.kubernetes_secret}}) {
    *out = j.value(key, *out);
  }
  for (auto [key, out] :
       {std::pair{"output_dir", &t.output_dir}, std::pair{"state_dir", &t.state_dir},
        std::pair{"inbox_dir", &t.inbox_dir}, std::pair{"kubeconfig", &t.kubeconfig},
        std::pair{"pkcs12_password_file", &t.pkcs12_password_file}}) {
    *out = j.value(key, std::string());
  }
  t.pkcs12_legacy = j.value("pkcs12_legacy", false);
  t.kubernetes_take_over = j.value("kubernetes_take_over", false);
  if (j.contains("kubernetes_operator_keys")) {
    t.kubernetes_operator_keys = j["kubernetes_operator_keys"].get<std::string>();
  }
  t.pkcs12_jks_truststore = j.value("pkcs12_jks_truststore", false);
  for (auto [key, out] :
       {std::pair{"key_mode", &t.key_mode}, std::pair{"public_mode", &t.public_mode}}) {
    if (!j.contains(key)) continue;
    auto mode = parse_mode(j[key].get<std::string>());
    if (!mode) return fail(ErrorKind::Usage, "{}: {}", key_path(where, key), mode.error().message);
    *out = *mode;
  }
  uid_t uid = 0;
  gid_t gid = 0;
  for (auto r : {read_integer(j, "uid", uid, where), read_integer(j, "gid", gid, where),
                 read_integer(j, "keep_generations", t.keep_generations, where)}) {
    if (!r) return std::unexpected(r.error());
  }
  if (j.contains("uid")) t.uid = uid;
  if (j.contains("gid")) t.gid = gid;
  if (auto it = j.find("notify"); it != j.end()) {
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto n = parse_notifier((*it)[i], fmt::format("{}.notify[{}]", where, i));
      if (!n) return std::unexpected(n.error());
      t.notifiers.push_back(std::move(*n));
    }
  }
  for (auto r : {read_seconds(j, "clock_skew", t.clock_skew, where),
                 read_seconds(j, "min_remaining", t.min_remaining, where),
                 read_duration(j, "live_timeout", t.live_timeout, where),
                 read_duration(j, "lock_timeout", t.lock_timeout, where),
                 read_seconds(j, "emergency_window", t.emergency_window, where)}) {
    if (!r) return std::unexpected(r.error());
  }
  return t;
}

Result<Config> parse_config(const json& j) {
  Config config;
  if (auto api = j.find("api"); api != j.end()) {
    config.api.url = api->value("url", config.api.url);
    config.api.ca_file = api->value("ca_file", "");
    config.api.token_file = api->value("token_file", "");
    config.api.allow_plain_http = api->value("allow_plain_http", false);
    for (auto r : {read_duration(*api, "connect_timeout", config.api.connect_timeout, "api"),
                   read_duration(*api, "total_timeout", config.api.total_timeout, "api")}) {
      if (!r) return std::unexpected(r.error());
    }
  }
  // Top-level: how many targets at once, and how politely (daemon.hpp).
  for (auto r : {read_integer(j, "concurrency", config.api.concurrency, ""),
                 read_integer(j, "live_concurrency", config.live_concurrency, "")}) {
    if (!r) return std::unexpected(r.error());
  }
  if (config.api.concurrency < 1 || config.live_concurrency < 1) {
    return fail(ErrorKind::Usage, "concurrency and live_concurrency must be at least 1");
  }
  config.api.rate = j.value("api_rate", config.api.rate);
  if (config.api.rate < 0) {
    return fail(ErrorKind::Usage, "api_rate: must be a number >= 0 (requests per second)");
  }
  const auto& targets = j.value("targets", json::array());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto t = parse_target(targets[i], fmt::format("targets[{}]", i));
    if (!t) return std::unexpected(t.error());
    config.targets.push_back(std::move(*t));
  }
  if (config.targets.empty()) return fail(ErrorKind::Usage, "the file names no targets");
  return config;
}

// nlohmann says at which byte it stopped; an editor shows lines and columns.
std::string position(std::string_view text, std::size_t byte) {
  const std::size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
  const std::string_view before = text.substr(0, at);
  const auto line = 1 + std::ranges::count(before, '\n');
  const std::size_t line_start = before.rfind('\n');
  const std::size_t column = at - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
  return fmt::format("line {}, column {}", line, column);
}

Result<json> parse_json(const std::string& text) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) return fail(ErrorKind::Usage, "is not a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: <why>".
    std::string_view why = e.what();
    if (auto colon = why.find(": ", why.find("parse error")); colon != why.npos) {
      why.remove_prefix(colon + 2);
    }
    return fail(ErrorKind::Usage, "JSON syntax error at {}: {}", position(text, e.byte), why);
  } catch (const json::exception& e) {
    return fail(ErrorKind::Usage, "is not valid JSON: {}", e.what());
  }
}

}  // namespace

Result<Config> load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorKind::Usage, "cannot read config file {}", path.string());
  std::stringstream text;
  text << in.rdbuf();
  auto config = [&]() -> Result<Config> {
    auto j = parse_json(text.str());
    if (!j) return std::unexpected(j.error());
    if (auto schema = check_config_schema(*j); !schema) return std::unexpected(schema.error());
    try {
      return parse_config(*j);
    } catch (const json::exception& e) {
      return fail(ErrorKind::Usage, "{}", e.what());
    }
  }();
  if (!config)
    return fail(ErrorKind::Usage, "config file {}: {}", path.string(), config.error().message);
  return config;
}

namespace {

// The key mode covers every file holding the private key (service.key,
// bundle.pem, the PKCS#12 keystore). Group-read is how apps of one group share
// a key; a write bit, or anything for others, hands it to whoever has a login.
Result<void> check_key_mode(const TargetConfig& t) {
  if (t.key_mode & 0022) {
    return fail(ErrorKind::Usage,
                "target \"{}\": key mode {:04o} lets {} write the private key: use 0600, or 0640 "
                "for a group of apps that read it",
                t.name, t.key_mode,
                (t.key_mode & 0022) == 0022 ? "its group and every user"
                : t.key_mode & 0020         ? "its group"
                                            : "every user");
  }
  if (t.key_mode & 0007) {
    return fail(ErrorKind::Usage,
                "target \"{}\": key mode {:04o} gives every user access to the private key: use "
                "0600, or 0640 for a group of apps that read it",
                t.name, t.key_mode);
  }
  if (t.key_mode & 0040) {
    spdlog::warn("target \"{}\": key mode {:04o} lets {} read the private key", t.name, t.key_mode,
                 t.gid ? fmt::format("members of group {}", *t.gid)
                       : fmt::format("members of certswap's group (gid {}; the output "
                                     "directory's group if it is set-group-ID)",
                                     getegid()));
  }
  return {};
}

// One directory as it may be spelt: "/out/a/" and "/out/b/../a" are the same
// place, and so is a path through a link to it, or to a parent that exists.
// Reads only: nothing is created.
std::vector<std::filesystem::path> spellings(const std::filesystem::path& dir) {
  std::error_code ec;
  auto lexical = std::filesystem::absolute(dir, ec).lexically_normal();
  if (ec) lexical = dir.lexically_normal();
  if (!lexical.has_filename() && lexical.has_relative_path()) lexical = lexical.parent_path();
  std::vector<std::filesystem::path> all{lexical};
  if (auto resolved = std::filesystem::weakly_canonical(dir, ec); !ec) all.push_back(resolved);
  return all;
}

}  // namespace

Result<void> finalize_target(TargetConfig& t) {
  if (!t.kubernetes_secret.empty()) {
    if (!t.output_dir.empty()) {
      return fail(ErrorKind::Usage,
                  "target {}: an output directory and a Kubernetes Secret: one output per target "
                  "(give each its own target)",
                  t.name.empty() ? t.kubernetes_secret : t.name);
    }
    if (t.state_dir.empty()) {
      return fail(ErrorKind::Usage,
                  "the Kubernetes Secret {} needs a state directory for its journal and staging "
                  "(--state-dir or CERTSWAP_STATE_DIR)",
                  t.kubernetes_secret);
    }
  } else if (t.output_dir.empty()) {
    return fail(ErrorKind::Usage,
                "no output: set --output-dir (CERTSWAP_OUTPUT_DIR) or --kubernetes-secret "
                "(CERTSWAP_KUBERNETES_SECRET)");
  }
  if (t.kubernetes_secret.empty() &&
      (t.kubernetes_take_over || t.kubernetes_operator_keys || !t.kubeconfig.empty())) {
    return fail(ErrorKind::Usage,
                "kubeconfig, kubernetes_take_over and kubernetes_operator_keys apply to a "
                "Kubernetes Secret output only (--kubernetes-secret)");
  }
  if (t.source == "aiven" && (t.project.empty() || t.service.empty() || t.user.empty())) {
    return fail(ErrorKind::Usage,
                "the aiven source needs a project, service and user (--project/--service/--user "
                "or CERTSWAP_PROJECT/CERTSWAP_SERVICE/CERTSWAP_USER)");
  }
  if (t.source == "inbox" && t.inbox_dir.empty()) {
    return fail(ErrorKind::Usage,
                "the inbox source needs an inbox directory (--inbox-dir or \"inbox_dir\")");
  }
  if (std::ranges::find(kKafkaRoutes, t.kafka_route) == std::end(kKafkaRoutes)) {
    return fail(ErrorKind::Usage,
                "unknown Kafka route \"{}\": use dynamic, public, private or privatelink",
                t.kafka_route);
  }
  // As avn: a connection id without a route means route privatelink, and
  // with another route it is a mistake (aiven-client cli.py).
  if (!t.privatelink_connection_id.empty()) {
    if (t.kafka_route == "dynamic") t.kafka_route = "privatelink";
    if (t.kafka_route != "privatelink") {
      return fail(ErrorKind::Usage,
                  "a PrivateLink connection id (--privatelink-connection-id or "
                  "\"privatelink_connection_id\") cannot be used with Kafka route \"{}\"",
                  t.kafka_route);
    }
  }
  if (t.state_dir.empty()) t.state_dir = t.output_dir / ".certswap";
  if (t.name.empty()) {
    t.name = t.user.empty() ? (t.kubernetes_secret.empty() ? t.output_dir.filename().string()
                                                           : t.kubernetes_secret)
                            : t.project + "/" + t.service + "/" + t.user;
  }
  if (t.keep_generations < 2) {
    return fail(ErrorKind::Usage,
                "keep_generations must be at least 2 (the live set and the previous one)");
  }
  return check_key_mode(t);
}

Result<void> finalize_targets(std::vector<TargetConfig>& targets) {
  for (auto& t : targets) {
    if (auto r = finalize_target(t); !r) return r;
  }
  for (auto [what, dir, why] : {std::tuple{"output directory", &TargetConfig::output_dir,
                                           "each would replace the other's certificate"},
                                std::tuple{"state directory", &TargetConfig::state_dir,
                                           "they would share one journal and one writer lock"}}) {
    std::map<std::filesystem::path, std::size_t> owner;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if ((targets[i].*dir).empty()) continue;  // a Secret target has no output directory
      for (const auto& spelling : spellings(targets[i].*dir)) {
        auto [it, added] = owner.try_emplace(spelling, i);
        if (!added && it->second != i) {
          return fail(ErrorKind::Usage,
                      "targets \"{}\" and \"{}\" share the {} {}: {}; give each its own",
                      targets[it->second].name, targets[i].name, what, spelling.string(), why);
        }
      }
    }
  }
  std::map<std::string, std::size_t> secret_owner;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].kubernetes_secret.empty()) continue;
    auto [it, added] = secret_owner.try_emplace(targets[i].kubernetes_secret, i);
    if (!added) {
      return fail(ErrorKind::Usage,
                  "targets \"{}\" and \"{}\" share the Kubernetes Secret {}: each would replace "
                  "the other's certificate; give each its own",
                  targets[it->second].name, targets[i].name, targets[i].kubernetes_secret);
    }
  }
  return {};
}

Result<std::string> read_token(const ApiConfig& api) {
  std::string token;
  std::string from = "AIVEN_AUTH_TOKEN";
  if (!api.token_file.empty()) {
    std::ifstream in(api.token_file, std::ios::binary);
    if (!in)
      return fail(ErrorKind::Usage, "cannot read the API token file {}", api.token_file.string());
    token.assign(std::istreambuf_iterator<char>(in), {});
    from = api.token_file.string();
  } else if (const char* env = std::getenv("AIVEN_AUTH_TOKEN"); env) {
    token = env;
  }
  // An editor's newline, a CRLF or a pasted tab around the token is not part
  // of it; inside it, such a character is a broken copy the API would refuse.
  constexpr std::string_view kBlank = " \t\r\n";
  token.erase(0, std::min(token.find_first_not_of(kBlank), token.size()));
  token.erase(token.find_last_not_of(kBlank) + 1);
  if (token.empty()) {
    return fail(
        ErrorKind::Usage,
        "no Aiven API token: set --token-file (or CERTSWAP_TOKEN_FILE) or AIVEN_AUTH_TOKEN");
  }
  if (std::ranges::any_of(token, [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
    return fail(ErrorKind::Usage,
                "the API token in {} has a space or control character inside it (not shown "
                "here): copy the token again",
                from);
  }
  return token;
}

}  // namespace certswap
