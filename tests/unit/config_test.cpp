#include "certswap/config.hpp"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "temp_dir.hpp"

using namespace certswap;
using namespace std::chrono_literals;

TEST_CASE("durations accept ms, s, m, h and d suffixes and a bare number means seconds") {
  CHECK(parse_duration("500ms").value() == 500ms);
  CHECK(parse_duration("30").value() == 30s);
  CHECK(parse_duration("30s").value() == 30s);
  CHECK(parse_duration("10m").value() == 10min);
  CHECK(parse_duration("24h").value() == 24h);
  CHECK(parse_duration("7d").value() == 168h);
}

TEST_CASE("a malformed duration is a usage error that quotes the text") {
  for (auto bad : {"", "abc", "10 years", "-5s", "5w", "99999999999999d", "9223372036854775807ms",
                   "36600000d"}) {
    auto d = parse_duration(bad);
    REQUIRE_FALSE(d);
    CHECK(d.error().kind == ErrorKind::Usage);
    CHECK_THAT(d.error().message, Catch::Contains(std::string("\"") + bad + "\""));
  }
}

TEST_CASE("file modes are octal and bounded") {
  CHECK(parse_mode("0600").value() == 0600);
  CHECK(parse_mode("640").value() == 0640);
  CHECK_FALSE(parse_mode("0900"));
  CHECK_FALSE(parse_mode("rw-r--r--"));
  CHECK_FALSE(parse_mode("17777"));
}

namespace {
std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("certswap-config-test-" + name);
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("a config file describes several targets sharing one API") {
  auto path = write_temp("multi.json", R"({
    "api": {"url": "https://api.example", "ca_file": "/ca.pem", "token_file": "/token"},
    "targets": [
      {"name": "orders", "project": "p", "service": "s", "user": "orders", "output_dir": "/out/orders",
       "min_remaining": "48h", "key_mode": "0640", "keep_generations": 3},
      {"project": "p", "service": "s", "user": "billing", "output_dir": "/out/billing"}
    ]})");
  auto config = load_config_file(path);
  REQUIRE(config);
  CHECK(config->api.url == "https://api.example");
  CHECK(config->api.token_file == "/token");
  REQUIRE(config->targets.size() == 2);
  CHECK(config->targets[0].min_remaining == 48h);
  CHECK(config->targets[0].key_mode == 0640);
  CHECK(config->targets[0].keep_generations == 3);
  auto& second = config->targets[1];
  REQUIRE(finalize_target(second));
  CHECK(second.name == "p/s/billing");
  CHECK(second.state_dir == std::filesystem::path("/out/billing/.certswap"));
  std::filesystem::remove(path);
}

TEST_CASE("a config file with a bad value names the file, the target and the key") {
  auto path = write_temp("bad.json", R"({"targets": [{"user": "u", "min_remaining": "soon"}]})");
  auto config = load_config_file(path);
  REQUIRE_FALSE(config);
  CHECK_THAT(config.error().message,
             Catch::Contains("targets[0]") && Catch::Contains("min_remaining"));
  std::filesystem::remove(path);
}

TEST_CASE("a target without project, service or user is refused for the aiven source") {
  TargetConfig t;
  t.output_dir = "/out";
  t.project = "p";
  auto r = finalize_target(t);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Usage);
}

TEST_CASE("the token is read from a file and never required on the command line") {
  auto path = write_temp("token", "secret-token-value\n");
  ApiConfig api;
  api.token_file = path;
  CHECK(read_token(api).value() == "secret-token-value");
  api.token_file = "/nonexistent/token";
  auto missing = read_token(api);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("/nonexistent/token"));
  std::filesystem::remove(path);
}

TEST_CASE("numbers in a config file must be whole and in range, not floats that would wrap") {
  for (const std::string field :
       {R"("uid": 1e300)", R"("gid": -1)", R"("keep_generations": 2.5)",
        R"("keep_generations": 99999999999)", R"("notify": [{"type": "signal", "pid": 1e300}])"}) {
    INFO(field);
    auto path =
        write_temp("numbers.json", R"({"targets": [{"project": "p", "service": "s", "user": "u",
        "output_dir": "/tmp/out", )" + field +
                                       "}]}");
    auto config = load_config_file(path);
    REQUIRE_FALSE(config);
    CHECK(config.error().kind == ErrorKind::Usage);
    CHECK_THAT(config.error().message, Catch::Contains("whole number in range"));
  }
}

TEST_CASE("an exec notifier names the variables it passes on, and nothing else is a name") {
  auto path = write_temp("env-pass.json", R"({"targets": [{"project": "p", "service": "s",
    "user": "u", "output_dir": "/tmp/out",
    "notify": [{"type": "exec", "command": ["/bin/true"], "env_pass": ["HOME", "LANG"]}]}]})");
  auto config = load_config_file(path);
  REQUIRE(config);
  CHECK(config->targets[0].notifiers[0].env_pass == std::vector<std::string>{"HOME", "LANG"});
  for (const std::string bad : {R"("HOME")", R"([1])", R"([""])", R"(["A=B"])"}) {
    INFO(bad);
    auto bad_path = write_temp("env-pass-bad.json", R"({"targets": [{"project": "p",
      "service": "s", "user": "u", "output_dir": "/tmp/out",
      "notify": [{"type": "exec", "command": ["/bin/true"], "env_pass": )" +
                                                        bad + "}]}]}");
    auto refused = load_config_file(bad_path);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::Usage);
    CHECK_THAT(refused.error().message, Catch::Contains("env_pass"));
    std::filesystem::remove(bad_path);
  }
  std::filesystem::remove(path);
}

namespace {

// A config file's text, loaded as --config would load it.
Result<Config> load_text(const std::string& text) {
  const certswap_test::TempDir dir("certswap-config-test", true);
  const auto path = dir.path / "config.json";
  std::ofstream(path) << text;
  return load_config_file(path);
}

// One target on the test's own terms, with `extra` keys added to it.
std::string one_target(const std::string& extra) {
  return R"({"targets": [{"project": "p", "service": "s", "user": "u", "output_dir": "/out/u")" +
         extra + "}]}";
}

std::string refusal(const std::string& text) {
  auto config = load_text(text);
  REQUIRE_FALSE(config);
  CHECK(config.error().kind == ErrorKind::Usage);
  return config.error().message;
}

}  // namespace

TEST_CASE("an unknown key is refused with its path in the file and the key it resembles") {
  const std::string notifier = R"(, "notify": [{"type": "exec", "command": ["/bin/true"]},
                                               {"type": "signal", "pidfile": "/run/app.pid"}])";
  for (auto [text, path, known] :
       {std::tuple<std::string, std::string, std::string>{
            R"({"concurency": 4, "targets": [{"user": "u"}]})", "concurency", "concurrency"},
        {R"({"api": {"tokenfile": "/t"}, "targets": [{"user": "u"}]})", "api.tokenfile",
         "token_file"},
        {one_target(R"(, "nofity": [{"type": "signal", "pid": 1}])"), "targets[0].nofity",
         "notify"},
        {one_target(R"(, "min_remaning": "48h")"), "targets[0].min_remaning", "min_remaining"},
        {one_target(notifier), "targets[0].notify[1].pidfile", "pid_file"}}) {
    INFO(text);
    const auto message = refusal(text);
    CHECK_THAT(message, Catch::Contains(path + ": unknown key") &&
                            Catch::Contains("did you mean \"" + known + "\"?"));
  }
  // Nothing close: no guess.
  const auto message = refusal(one_target(R"(, "colour": "blue")"));
  CHECK_THAT(message, Catch::Contains("targets[0].colour: unknown key"));
  CHECK_THAT(message, !Catch::Contains("did you mean"));
}

TEST_CASE("a config value of the wrong JSON type is refused, not skipped") {
  for (auto [text, expected] : {
           std::pair<std::string, std::string>{
               one_target(R"(, "bootstrap": ["a:1", "b:2"])"),
               "targets[0].bootstrap: must be a string, not a list"},
           {one_target(R"(, "pkcs12_password_file": 7)"),
            "targets[0].pkcs12_password_file: must be a string, not a number"},
           {one_target(R"(, "name": 5)"), "targets[0].name: must be a string, not a number"},
           {one_target(R"(, "key_mode": 416)"), "targets[0].key_mode: must be a string"},
           {one_target(R"(, "pkcs12_legacy": "yes")"),
            "targets[0].pkcs12_legacy: must be true or false, not a string"},
           {one_target(R"(, "notify": {"type": "signal", "pid": 1})"),
            "targets[0].notify: must be a list of objects, not an object"},
           {one_target(R"(, "notify": [{"type": "exec", "command": "/bin/true"}])"),
            "targets[0].notify[0].command: must be a list of strings, not a string"},
           {R"({"api": {"allow_plain_http": 1}, "targets": [{"user": "u"}]})",
            "api.allow_plain_http: must be true or false, not a number"},
           {R"({"api": "https://api.example", "targets": [{"user": "u"}]})",
            "api: must be an object, not a string"},
           {R"({"api_rate": "10", "targets": [{"user": "u"}]})",
            "api_rate: must be a number, not a string"},
           {R"({"targets": ["orders"]})", "targets[0]: must be an object, not a string"},
       }) {
    INFO(text);
    CHECK_THAT(refusal(text), Catch::Contains(expected));
  }
}

TEST_CASE("a JSON syntax error is refused with its line and column") {
  const auto message = refusal("{\n  \"targets\": [\n    {\"user\": \"u\",, }\n  ]\n}\n");
  CHECK_THAT(message, Catch::Contains("JSON syntax error at line 3, column 18"));
  CHECK_THAT(message, !Catch::Contains("json.exception"));
  CHECK_THAT(refusal("{\"targets\": [\n"), Catch::Contains("JSON syntax error at line 2"));
  CHECK_THAT(refusal("[]"), Catch::Contains("is not a JSON object"));
}

TEST_CASE("every key the config file documents is accepted and read") {
  auto config = load_text(R"({
    "api": {"url": "https://api.example", "ca_file": "/ca.pem", "token_file": "/token",
            "allow_plain_http": true, "connect_timeout": "2s", "total_timeout": "40s"},
    "concurrency": 3, "live_concurrency": 2, "api_rate": 7.5,
    "targets": [
      {"name": "orders", "project": "p", "service": "s", "user": "orders",
       "output_dir": "/out/orders", "state_dir": "/state/orders", "bootstrap": "b:9093",
       "kafka_route": "private", "source": "inbox", "format": "pkcs12",
       "inbox_dir": "/inbox", "pkcs12_password_file": "/pass", "pkcs12_legacy": true,
       "key_mode": "0640", "public_mode": "0644", "uid": 1000, "gid": 1001,
       "keep_generations": 3, "clock_skew": "1m", "min_remaining": "2d", "live_timeout": "5s",
       "lock_timeout": "90s", "emergency_window": "3d",
       "notify": [{"type": "signal", "pid_file": "/run/app.pid", "signal": "SIGUSR1"},
                  {"type": "signal", "pid": 42},
                  {"type": "exec", "command": ["/bin/true", "x"], "env_pass": ["HOME"],
                   "timeout": "10s"},
                  {"type": "http", "url": "http://127.0.0.1:1/reload"}]}
    ]})");
  REQUIRE(config);
  CHECK(config->api.allow_plain_http);
  CHECK(config->api.connect_timeout == 2s);
  CHECK(config->api.total_timeout == 40s);
  CHECK(config->api.concurrency == 3);
  CHECK(config->live_concurrency == 2);
  CHECK(config->api.rate == 7.5);
  const auto& t = config->targets.at(0);
  CHECK(t.state_dir == "/state/orders");
  CHECK(t.kafka_route == "private");
  CHECK(t.inbox_dir == "/inbox");
  CHECK(t.pkcs12_password_file == "/pass");
  CHECK(t.pkcs12_legacy);
  CHECK(t.uid == 1000u);
  CHECK(t.gid == 1001u);
  CHECK(t.lock_timeout == 90s);
  CHECK(t.emergency_window == 72h);
  REQUIRE(t.notifiers.size() == 4);
  CHECK(t.notifiers[0].pid_file == "/run/app.pid");
  CHECK(t.notifiers[0].signal == "SIGUSR1");
  CHECK(t.notifiers[1].pid == 42);
  CHECK(t.notifiers[2].command == std::vector<std::string>{"/bin/true", "x"});
  CHECK(t.notifiers[2].timeout == 10s);
  CHECK(t.notifiers[3].url == "http://127.0.0.1:1/reload");
}

TEST_CASE("a notifier with both a pid and a pid_file is refused") {
  CHECK_THAT(
      refusal(
          one_target(R"(, "notify": [{"type": "signal", "pid": 42, "pid_file": "/run/app.pid"}])")),
      Catch::Contains("targets[0].notify[0]") && Catch::Contains("\"pid\" and \"pid_file\""));
}

namespace {

TargetConfig target_at(const std::string& name, const std::filesystem::path& output) {
  TargetConfig t;
  t.name = name;
  t.project = "p";
  t.service = "s";
  t.user = name;
  t.output_dir = output;
  return t;
}

}  // namespace

TEST_CASE("two targets writing one output directory are refused, however it is spelt") {
  const certswap_test::TempDir dir("certswap-config-test", true);
  std::filesystem::create_directories(dir.path / "real");
  std::filesystem::create_directory_symlink(dir.path / "real", dir.path / "link");
  for (auto [first, second] :
       {std::pair{std::string("/out/a"), std::string("/out/a/")},
        {"/out/a", "/out/b/../a"},
        {(dir.path / "real").string(), (dir.path / "link").string()},
        {(dir.path / "real/creds").string(), (dir.path / "link/creds").string()}}) {
    INFO(first << " and " << second);
    std::vector<TargetConfig> targets{target_at("orders", first), target_at("billing", second)};
    auto r = finalize_targets(targets);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK_THAT(r.error().message, Catch::Contains("\"orders\"") && Catch::Contains("\"billing\"") &&
                                      Catch::Contains("output directory"));
  }
  std::vector<TargetConfig> apart{target_at("orders", "/out/a"), target_at("billing", "/out/b")};
  CHECK(finalize_targets(apart));
}

TEST_CASE("two targets sharing one state directory are refused") {
  std::vector<TargetConfig> targets{target_at("orders", "/out/a"), target_at("billing", "/out/b")};
  targets[0].state_dir = "/state/shared";
  targets[1].state_dir = "/state/./shared/";
  auto r = finalize_targets(targets);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("\"orders\"") && Catch::Contains("\"billing\"") &&
                                    Catch::Contains("state directory"));
}

TEST_CASE("a key mode that lets others read or anyone but the owner write is refused") {
  for (mode_t mode : {0666, 0620, 0604, 0602, 0601, 0660}) {
    INFO(std::oct << mode);
    auto t = target_at("orders", "/out/a");
    t.key_mode = mode;
    auto r = finalize_target(t);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK_THAT(r.error().message, Catch::Contains(fmt::format("key mode {:04o}", mode)));
  }
  // The file's key_mode goes through the same check.
  auto config = load_text(one_target(R"(, "key_mode": "0666")"));
  REQUIRE(config);
  auto r = finalize_targets(config->targets);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("key mode 0666") && Catch::Contains("write"));
}

TEST_CASE("a group-readable key mode is accepted with a warning naming who can read the key") {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  auto t = target_at("orders", "/out/a");
  t.key_mode = 0640;
  t.gid = 1234;
  const bool accepted = finalize_target(t).has_value();
  spdlog::default_logger()->sinks().pop_back();
  CHECK(accepted);
  CHECK_THAT(log.str(), Catch::Contains("0640") && Catch::Contains("group 1234") &&
                            Catch::Contains("read the private key"));
  auto owner_only = target_at("billing", "/out/b");
  CHECK(finalize_target(owner_only));
}

TEST_CASE("the token loses the blanks around it, from a file and from the environment") {
  const certswap_test::TempDir dir("certswap-token-test", true);
  ApiConfig api;
  api.token_file = dir.path / "token";
  std::ofstream(api.token_file) << " \t secret-token-value\r\n\n";
  CHECK(read_token(api).value() == "secret-token-value");

  ApiConfig from_env;
  ::setenv("AIVEN_AUTH_TOKEN", "\tsecret-token-value \n", 1);
  CHECK(read_token(from_env).value() == "secret-token-value");
  ::unsetenv("AIVEN_AUTH_TOKEN");
}

TEST_CASE("a token with a blank or control character inside is refused without showing it") {
  const certswap_test::TempDir dir("certswap-token-test", true);
  ApiConfig api;
  api.token_file = dir.path / "token";
  for (const std::string& inner :
       {std::string("secret token"), std::string("secret\ttoken"), std::string("secret\ntoken"),
        std::string("secret\x01token"), std::string("secret\0token", 12)}) {
    std::ofstream(api.token_file) << inner << "\n";
    auto r = read_token(api);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Usage);
    CHECK_THAT(r.error().message, Catch::Contains(api.token_file.string()));
    CHECK_THAT(r.error().message, !Catch::Contains("secret") && !Catch::Contains("token\n"));
  }
  ApiConfig from_env;
  ::setenv("AIVEN_AUTH_TOKEN", "secret token", 1);
  auto r = read_token(from_env);
  ::unsetenv("AIVEN_AUTH_TOKEN");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("AIVEN_AUTH_TOKEN") && !Catch::Contains("secret"));
}
