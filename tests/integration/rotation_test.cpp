// The rotation pipeline end to end on the test bed: the real certswap binary,
// the Aiven API emulator over HTTPS and the mTLS Kafka broker.
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

#include "certswap/cert_info.hpp"
#include "certswap/live_validator.hpp"
#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

std::string live_fingerprint(const fs::path& out) {
  auto info = certswap::inspect_certificate_pem(read(out / "service.cert"), "live service.cert");
  REQUIRE(info);
  return info->sha256_fingerprint;
}

std::vector<std::string> generations(const fs::path& out) {
  std::vector<std::string> gens;
  for (const auto& e : fs::directory_iterator(out)) {
    auto name = e.path().filename().string();
    if (name.starts_with("..") && name != "..data" && e.is_directory()) gens.push_back(name);
  }
  std::ranges::sort(gens);
  return gens;
}

certswap::LiveVerdict connect_with_live_files(const Cli& cli) {
  certswap::CredentialSet set{read(cli.out / "ca.pem"), read(cli.out / "service.cert"),
                              read(cli.out / "service.key"), "live files"};
  return certswap::validate_live(set, cli.tb.bootstrap, std::chrono::seconds(10)).verdict;
}

}  // namespace

TEST_CASE("init on an empty directory installs the current credential", "[rotation]") {
  Cli cli("init-empty");
  auto r = cli.run({"init"});
  REQUIRE(r.exit_code == 0);
  CHECK(fs::is_symlink(cli.out / "..data"));
  CHECK(fs::is_symlink(cli.out / "service.key"));
  CHECK((fs::status(cli.out / "service.key").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(connect_with_live_files(cli) == certswap::LiveVerdict::Accepted);
}

TEST_CASE("init on a valid directory keeps it and downloads nothing", "[rotation]") {
  Cli cli("init-valid");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.control_delete("/_testbed/requests");
  auto r = cli.run({"init"});
  REQUIRE(r.exit_code == 0);
  CHECK(snapshot_live(cli.out) == before);
  auto requests = cli.tb.control_get("/_testbed/requests");
  for (const auto& req : requests) {
    CHECK(req.value("path", "").find("/user/" + cli.user) == std::string::npos);
  }
}

TEST_CASE("init repairs a directory whose key was corrupted", "[rotation]") {
  Cli cli("init-corrupt");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto gen = fs::read_symlink(cli.out / "..data");
  {
    // Someone edits the live key by hand (through the link, as an app's admin would).
    fs::permissions(cli.out / gen / "service.key", fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(cli.out / gen / "service.key", std::ios::trunc) << "garbage\n";
  }
  auto r = cli.run({"init"});
  REQUIRE(r.exit_code == 0);
  CHECK(read(cli.out / "service.key").find("PRIVATE KEY") != std::string::npos);
  CHECK(connect_with_live_files(cli) == certswap::LiveVerdict::Accepted);
}

TEST_CASE("init keeps a live set that ends within --min-remaining and says why it is not enough",
          "[rotation]") {
  Cli cli("init-min-remaining");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto fp = live_fingerprint(cli.out);
  const auto gen = fs::read_symlink(cli.out / "..data");
  // Upstream serves the same pair, which is no better: nothing to install.
  auto r = cli.run({"init", "--min-remaining", "36500d"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("less than the minimum remaining"));
  CHECK(live_fingerprint(cli.out) == fp);
  CHECK(fs::read_symlink(cli.out / "..data") == gen);
  auto again = cli.run({"init"});  // with the default minimum the same set is fine
  CHECK(again.exit_code == 0);
  CHECK(fs::read_symlink(cli.out / "..data") == gen);
}

TEST_CASE("rotate after a renewal swaps, keeps the old generation, acknowledges once",
          "[rotation]") {
  Cli cli("rotate");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto old_fp = live_fingerprint(cli.out);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  cli.remember_key(renewed["user"]["access_key"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 0);

  auto r = cli.run({"rotate", "--detailed-exitcode"});
  REQUIRE(r.exit_code == 2);
  CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
  CHECK(live_fingerprint(cli.out) != old_fp);
  CHECK(generations(cli.out).size() == 2);
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(connect_with_live_files(cli) == certswap::LiveVerdict::Accepted);
  for (auto step : {"fetch", "stage", "validate-offline", "validate-live", "swap", "acknowledge"}) {
    CHECK_THAT(r.output, Catch::Contains(step));
  }

  SECTION("a second rotate does nothing: no swap, no second acknowledgement") {
    const auto before = snapshot_live(cli.out);
    const auto gens = generations(cli.out);
    auto again = cli.run({"rotate", "--detailed-exitcode"});
    CHECK(again.exit_code == 0);
    CHECK(snapshot_live(cli.out) == before);
    CHECK(generations(cli.out) == gens);
    CHECK(cli.tb.ack_count(cli.user) == 1);
    CHECK_THAT(again.output, !Catch::Contains("stage"));
  }
  SECTION("status shows the live set and that upstream is current") {
    auto s = cli.run({"status", "--json"});
    REQUIRE(s.exit_code == 0);
    auto j = nlohmann::json::parse(s.output.substr(s.output.find('[')));
    CHECK(j[0]["live"]["sha256"] == renewed["fingerprint"]);
    CHECK(j[0]["upstream"]["newer_than_live"] == false);
    CHECK(j[0]["upstream"]["renewal_pending"] == false);
    CHECK(j[0]["journal"]["staged"] == "");
    CHECK(j[0]["journal"]["last_result"] == "rotated");
  }
}

TEST_CASE("rotate --dry-run validates against the broker and changes nothing", "[rotation]") {
  Cli cli("dry-run");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.renew(cli.user, "gen2");
  auto r = cli.run({"rotate", "--dry-run"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("validate-live") && Catch::Contains("accepted"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("rotate --reset-credentials installs the new pair from the reset", "[rotation]") {
  Cli cli("reset");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto old_fp = live_fingerprint(cli.out);
  auto r = cli.run({"rotate", "--reset-credentials"});
  REQUIRE(r.exit_code == 0);
  CHECK(live_fingerprint(cli.out) != old_fp);
  CHECK(connect_with_live_files(cli) == certswap::LiveVerdict::Accepted);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("a CA bundle change alone rotates ca.pem and acknowledges nothing", "[rotation]") {
  Cli cli("ca-bundle");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto old_ca = read(cli.out / "ca.pem");
  const auto fp = live_fingerprint(cli.out);
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", true}});
  auto r = cli.run({"rotate"});
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", false}});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("CA bundle changed"));
  CHECK(read(cli.out / "ca.pem") != old_ca);
  CHECK(live_fingerprint(cli.out) == fp);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(connect_with_live_files(cli) == certswap::LiveVerdict::Accepted);
}

TEST_CASE("a crash after staging or after the swap converges on the next rotate",
          "[rotation][crash]") {
  for (std::string point : {"after-stage", "after-swap"}) {
    DYNAMIC_SECTION("killed " << point) {
      Cli cli("crash-" + point);
      REQUIRE(cli.run({"init"}).exit_code == 0);
      auto renewed = cli.tb.renew(cli.user, "gen2");
      auto killed = cli.run({"rotate"}, {{"CERTSWAP_FAILPOINT", point}});
      REQUIRE(killed.exit_code == 128 + SIGKILL);
      CHECK(cli.tb.ack_count(cli.user) == 0);
      // The journal knows what was staged before the crash.
      auto journal = nlohmann::json::parse(read(cli.out / ".certswap" / "state.json"));
      CHECK(journal["staged_fingerprint"] == renewed["fingerprint"]);
      auto r = cli.run({"rotate"});
      REQUIRE(r.exit_code == 0);
      CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
      CHECK(cli.tb.ack_count(cli.user) == 1);
      auto again = cli.run({"rotate"});
      CHECK(again.exit_code == 0);
      CHECK(cli.tb.ack_count(cli.user) == 1);
    }
  }
}

TEST_CASE("validate reads the live links and bundle.pem serves as certificate and key",
          "[rotation]") {
  Cli cli("validate-bundle");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto bundle = (cli.out / "bundle.pem").string();
  auto r = cli.run({"validate", "--cert", bundle, "--key", bundle, "--ca",
                    (cli.out / "ca.pem").string(), "--bootstrap", cli.tb.bootstrap});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("validate-live") && Catch::Contains("accepted"));
  CHECK((fs::status(cli.out / "bundle.pem").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  auto foreign = cli.run({"validate", "--cert", (cli.out / "service.cert").string(), "--key",
                          (cli.out / "service.key").string(), "--ca",
                          (fs::path(cli.tb.emulator_dir) / "foreign-ca.pem").string()});
  CHECK(foreign.exit_code == 3);
  CHECK_THAT(foreign.output, Catch::Contains("not by the project CA"));
}

TEST_CASE("the json log format prints one JSON object per step and per log line", "[rotation]") {
  Cli cli("json-log");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  auto r = cli.run({"rotate", "--log-format", "json"});
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.output);
  std::set<std::string> steps;
  nlohmann::json last_step;
  long long steps_us = 0;  // the steps before the last
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);  // throws, failing the test, on any non-JSON line
    ++parsed;
    if (j.contains("step")) {
      CHECK(j["ms"].is_number_integer());
      CHECK(j["status"].is_string());
      steps.insert(j["step"].get<std::string>());
      if (!last_step.is_null()) steps_us += last_step["us"].get<long long>();
      last_step = j;
    } else {
      CHECK(j["level"].is_string());
      CHECK(j["msg"].is_string());
    }
  }
  CHECK(parsed > 5);
  for (auto step :
       {"inspect", "fetch", "validate-offline", "validate-live", "swap", "acknowledge"}) {
    CHECK(steps.contains(step));
  }
  // The check's own line comes last: its whole time, which holds every step,
  // and the fsyncs the rotation made (it makes some for the generation and the journal).
  INFO(last_step.dump());
  CHECK(last_step["step"] == "check");
  CHECK(last_step["status"] == "ok");
  CHECK(last_step["us"].get<long long>() >= steps_us);
  const auto detail = last_step["detail"].get<std::string>();
  CHECK_THAT(detail, Catch::StartsWith("rotated; ") && Catch::EndsWith(" us in fsync"));
  CHECK(std::stoi(detail.substr(std::string("rotated; ").size())) > 0);
}

TEST_CASE("rotate --force publishes the same set again and tells the apps", "[rotation]") {
  Cli cli("force");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto fp = live_fingerprint(cli.out);
  const auto gens = generations(cli.out);
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  auto r = cli.run({"rotate", "--force", "--notify-exec", "/usr/bin/touch " + marker.string()});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("forced") && Catch::Contains("validate-live"));
  CHECK(live_fingerprint(cli.out) == fp);
  CHECK(generations(cli.out).size() == gens.size() + 1);
  CHECK(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("inside the emergency window an unreachable broker does not stop the swap",
          "[rotation]") {
  // The live certificate (820 days) ends within a 3000-day window: waiting for
  // the broker check would let it expire, so offline validation decides.
  Cli cli("emergency");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  auto r = cli.run({"rotate", "--bootstrap", "127.0.0.1:1", "--live-timeout", "2s",
                    "--emergency-window", "3000d"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("emergency window") && Catch::Contains("127.0.0.1:1"));
  CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("an emergency swap has its own detailed exit code", "[rotation]") {
  Cli cli("emergency-code");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  auto r = cli.run({"rotate", "--detailed-exitcode", "--bootstrap", "127.0.0.1:1", "--live-timeout",
                    "2s", "--emergency-window", "3000d"});
  CHECK(r.exit_code == 8);
  CHECK_THAT(r.output, Catch::Contains("rotated-unchecked"));
  CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("brokers that cannot be located count as an inconclusive check", "[rotation]") {
  Cli cli("locate-fails");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);
  // Every GET of the service fails: certswap cannot learn the brokers' address.
  struct ClearFaults {
    const testbed::Testbed& tb;
    ~ClearFaults() { tb.clear_faults(); }
  } cleared{cli.tb};
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/service/" + cli.tb.service},
                    {"count", 1000},
                    {"fault", {{"kind", "status"}, {"status", 404}}}});
  SECTION("outside the emergency window nothing changes") {
    auto r = cli.run({"rotate"});
    CHECK(r.exit_code == 4);
    CHECK(snapshot_live(cli.out) == before);
    CHECK(cli.tb.ack_count(cli.user) == 0);
  }
  SECTION("inside it, the swap goes ahead on offline checks") {
    auto r = cli.run({"rotate", "--emergency-window", "3000d"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output,
               Catch::Contains("could not be located") && Catch::Contains("emergency window"));
    CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
    CHECK(cli.tb.ack_count(cli.user) == 1);
  }
}

TEST_CASE("a set issued before the live one never replaces it (a lagging API replica)",
          "[rotation]") {
  Cli cli("older");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  // Upstream now offers a pair issued two hours before the live one.
  cli.tb.control_post("/_testbed/renew", {{"project", cli.tb.project},
                                          {"service", cli.tb.service},
                                          {"username", cli.user},
                                          {"not_before_offset_s", -7200}});
  auto r = cli.run({"rotate", "--detailed-exitcode"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("before the live one") && Catch::Contains("keeping"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  // The user's own decision overrides it.
  auto forced = cli.run({"rotate", "--force"});
  CHECK(forced.exit_code == 0);
  CHECK(snapshot_live(cli.out) != before);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}
