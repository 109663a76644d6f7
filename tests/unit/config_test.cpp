#include "certswap/config.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

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
