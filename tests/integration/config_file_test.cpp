// A config file the agent would misread is refused before anything happens:
// nothing is fetched, written or acknowledged, and `check-config` says so
// without running anything.
#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

// A config file whose one target writes into `output`, not the harness's
// directory, so a test can tell that nothing created it.
fs::path write_config_for(const Cli& cli, const fs::path& output, const nlohmann::json& keys) {
  nlohmann::json target_keys = keys;
  target_keys["output_dir"] = output.string();
  return cli.write_config(target_keys);
}

}  // namespace

TEST_CASE("a misspelt key in the config file stops the renewal before anything is fetched",
          "[cli]") {
  Cli cli("config-typo");
  cli.tb.renew(cli.user, "gen2");
  const auto output = cli.out / "creds";
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  const auto config = write_config_for(
      cli, output,
      {{"nofity", {{{"type", "exec"}, {"command", {"/usr/bin/touch", marker.string()}}}}}});

  auto r = cli.run({"rotate", "--config", config.string()});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("targets[0].nofity: unknown key") &&
                           Catch::Contains("did you mean \"notify\"?"));
  CHECK_FALSE(fs::exists(output));
  CHECK_FALSE(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("check-config reports a good config file's targets and creates nothing", "[cli]") {
  Cli cli("check-config");
  const auto output = cli.out / "creds";
  // An API that can't be reached and a token file that isn't there: the
  // command must need neither.
  const auto config = cli.out.parent_path() / (cli.out.filename().string() + ".json");
  std::ofstream(config) << nlohmann::json{
      {"api", {{"url", "https://127.0.0.1:9"}, {"token_file", (cli.out / "no-token").string()}}},
      {"targets",
       {{{"name", "orders"},
         {"project", cli.tb.project},
         {"service", cli.tb.service},
         {"user", cli.user},
         {"output_dir", output.string()},
         {"key_mode",
          "0640"}}}}}.dump();

  auto r = cli.run({"check-config", "--config", config.string()});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output,
             Catch::Contains("target orders: source aiven " + cli.tb.project + "/" +
                             cli.tb.service + "/" + cli.user + ", output " + output.string()));
  CHECK_THAT(r.output, Catch::Contains("key mode 0640") && Catch::Contains("config OK"));
  CHECK_FALSE(fs::exists(output));
  CHECK(fs::is_empty(cli.out));
}

TEST_CASE("check-config refuses a bad config file with exit 64 and creates nothing", "[cli]") {
  Cli cli("check-config-bad");
  const auto output = cli.out / "creds";
  for (const auto& [keys, why] :
       {std::pair{nlohmann::json{{"min_remaning", "2d"}}, "targets[0].min_remaning: unknown key"},
        std::pair{nlohmann::json{{"key_mode", "0666"}}, "key mode 0666"},
        std::pair{nlohmann::json{
                      {"notify", {{{"type", "signal"}, {"pid", 1}, {"pid_file", "/run/x.pid"}}}}},
                  "\"pid\" and \"pid_file\""},
        std::pair{nlohmann::json{{"notify", {{{"type", "sginal"}, {"pid", 1}}}}},
                  "unknown notifier \"sginal\""}}) {
    INFO(keys.dump());
    auto r = cli.run({"check-config", "--config", write_config_for(cli, output, keys).string()});
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains(why) && !Catch::Contains("config OK"));
  }
  auto r = cli.run({"check-config"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("check-config needs --config"));
  CHECK_FALSE(fs::exists(output));
  CHECK(fs::is_empty(cli.out));
}

TEST_CASE("what the config file refuses is refused as flags too: --key-mode, --notify-pid twice",
          "[cli]") {
  Cli cli("key-mode-cli");
  auto r = cli.run({"rotate", "--key-mode", "0666"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("key mode 0666"));
  r = cli.run({"rotate", "--notify-pid", "1", "--notify-pid-file", "/run/x.pid"});
  CHECK(r.exit_code == 64);
  CHECK_THAT(r.output, Catch::Contains("--notify-pid and --notify-pid-file"));
  CHECK(fs::is_empty(cli.out));  // nothing was fetched or written
}
