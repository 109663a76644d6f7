#include "certswap/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "certswap/aiven_response.hpp"

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
    return fail(ErrorKind::Usage, "{}: \"{}\" must be a whole number in range, not {}", where, key,
                v.dump());
  }
  return {};
}

Result<void> read_duration(const json& j, const char* key, std::chrono::milliseconds& out,
                           const std::string& where) {
  if (!j.contains(key)) return {};
  if (!j[key].is_string())
    return fail(ErrorKind::Usage, "{}: \"{}\" must be a string like \"24h\"", where, key);
  auto d = parse_duration(j[key].get<std::string>());
  if (!d) return fail(ErrorKind::Usage, "{}: {}: {}", where, key, d.error().message);
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

Result<NotifierConfig> parse_notifier(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return fail(ErrorKind::Usage, "{}: a notifier needs a \"type\" (signal, exec or http)", where);
  }
  NotifierConfig n;
  n.type = j["type"].get<std::string>();
  if (auto r = read_integer(j, "pid", n.pid, where); !r) return std::unexpected(r.error());
  n.pid_file = j.value("pid_file", "");
  n.signal = j.value("signal", n.signal);
  n.url = j.value("url", "");
  if (j.contains("command")) n.command = j["command"].get<std::vector<std::string>>();
  if (j.contains("env_pass")) {
    const json& names = j["env_pass"];
    const bool valid = names.is_array() && std::ranges::all_of(names, [](const json& name) {
                         return name.is_string() && !name.get<std::string>().empty() &&
                                !name.get<std::string>().contains('=');
                       });
    if (!valid) {
      return fail(ErrorKind::Usage,
                  "{}: \"env_pass\" must be a list of variable names, e.g. [\"HOME\", \"LANG\"]",
                  where);
    }
    n.env_pass = names.get<std::vector<std::string>>();
  }
  if (auto r = read_duration(j, "timeout", n.timeout, where); !r) return std::unexpected(r.error());
  return n;
}

Result<TargetConfig> parse_target(const json& j, const std::string& where) {
  if (!j.is_object()) return fail(ErrorKind::Usage, "{}: a target must be an object", where);
  TargetConfig t;
  auto str = [&](const char* key, std::string& out) {
    if (j.contains(key) && j[key].is_string()) out = j[key].get<std::string>();
  };
  str("name", t.name);
  str("project", t.project);
  str("service", t.service);
  str("user", t.user);
  str("bootstrap", t.bootstrap);
  str("kafka_route", t.kafka_route);
  str("source", t.source);
  str("format", t.format);
  std::string path;
  str("output_dir", path);
  t.output_dir = path;
  path.clear();
  str("state_dir", path);
  t.state_dir = path;
  path.clear();
  str("inbox_dir", path);
  t.inbox_dir = path;
  path.clear();
  str("pkcs12_password_file", path);
  t.pkcs12_password_file = path;
  t.pkcs12_legacy = j.value("pkcs12_legacy", false);
  for (auto [key, out] :
       {std::pair{"key_mode", &t.key_mode}, std::pair{"public_mode", &t.public_mode}}) {
    if (!j.contains(key)) continue;
    auto mode = parse_mode(j[key].is_string() ? j[key].get<std::string>() : std::string{"?"});
    if (!mode) return fail(ErrorKind::Usage, "{}: {}: {}", where, key, mode.error().message);
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
    if (!it->is_array()) return fail(ErrorKind::Usage, "{}: \"notify\" must be a list", where);
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto n = parse_notifier((*it)[i], fmt::format("{} notify[{}]", where, i));
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

}  // namespace

Result<Config> load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorKind::Usage, "cannot read config file {}", path.string());
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(ErrorKind::Usage, "config file {} is not a JSON object", path.string());
  }
  Config config;
  try {
    if (auto api = j.find("api"); api != j.end()) {
      config.api.url = api->value("url", config.api.url);
      config.api.ca_file = api->value("ca_file", "");
      config.api.token_file = api->value("token_file", "");
      config.api.allow_plain_http = api->value("allow_plain_http", false);
      const std::string where = path.string() + " api";
      auto r1 = read_duration(*api, "connect_timeout", config.api.connect_timeout, where);
      if (!r1) return std::unexpected(r1.error());
      auto r2 = read_duration(*api, "total_timeout", config.api.total_timeout, where);
      if (!r2) return std::unexpected(r2.error());
    }
    // Top-level: how many targets at once, and how politely (daemon.hpp).
    for (auto r : {read_integer(j, "concurrency", config.api.concurrency, path.string()),
                   read_integer(j, "live_concurrency", config.live_concurrency, path.string())}) {
      if (!r) return std::unexpected(r.error());
    }
    if (auto rate = j.find("api_rate"); rate != j.end()) {
      if (!rate->is_number() || rate->get<double>() < 0) {
        return fail(ErrorKind::Usage, "{}: api_rate must be a number >= 0 (requests per second)",
                    path.string());
      }
      config.api.rate = rate->get<double>();
    }
    if (config.api.concurrency < 1 || config.live_concurrency < 1) {
      return fail(ErrorKind::Usage, "{}: concurrency and live_concurrency must be at least 1",
                  path.string());
    }
    const auto& targets = j.value("targets", json::array());
    for (std::size_t i = 0; i < targets.size(); ++i) {
      auto t = parse_target(targets[i], fmt::format("{} targets[{}]", path.string(), i));
      if (!t) return std::unexpected(t.error());
      config.targets.push_back(std::move(*t));
    }
  } catch (const json::exception& e) {
    return fail(ErrorKind::Usage, "config file {}: {}", path.string(), e.what());
  }
  if (config.targets.empty()) {
    return fail(ErrorKind::Usage, "config file {} names no targets", path.string());
  }
  return config;
}

Result<void> finalize_target(TargetConfig& t) {
  if (t.output_dir.empty()) {
    return fail(ErrorKind::Usage, "no output directory: set --output-dir or CERTSWAP_OUTPUT_DIR");
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
  if (t.state_dir.empty()) t.state_dir = t.output_dir / ".certswap";
  if (t.name.empty()) {
    t.name = t.user.empty() ? t.output_dir.filename().string()
                            : t.project + "/" + t.service + "/" + t.user;
  }
  if (t.keep_generations < 2) {
    return fail(ErrorKind::Usage,
                "keep_generations must be at least 2 (the live set and the previous one)");
  }
  return {};
}

Result<std::string> read_token(const ApiConfig& api) {
  std::string token;
  if (!api.token_file.empty()) {
    std::ifstream in(api.token_file);
    if (!in)
      return fail(ErrorKind::Usage, "cannot read the API token file {}", api.token_file.string());
    std::getline(in, token);
  } else if (const char* env = std::getenv("AIVEN_AUTH_TOKEN"); env) {
    token = env;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    return fail(
        ErrorKind::Usage,
        "no Aiven API token: set --token-file (or CERTSWAP_TOKEN_FILE) or AIVEN_AUTH_TOKEN");
  }
  return token;
}

}  // namespace certswap
