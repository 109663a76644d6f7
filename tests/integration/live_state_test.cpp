// What the output directory holds decides what a run owes: another user's
// set is not this target's live set, a damaged set still has apps reading it,
// and a second writer with its own state directory still waits for the first.
#include <csignal>

#include "certswap/cert_info.hpp"
#include "cli_harness.hpp"
#include "eventually.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

certswap::CertInfo live_cert(const fs::path& out) {
  auto info = certswap::inspect_certificate_pem(read(out / "service.cert"), "live service.cert");
  REQUIRE(info);
  return *info;
}

std::string upstream_fingerprint(const Cli& cli, const std::string& user) {
  auto answer = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                      "/user/" + user + "?include_secrets=true");
  REQUIRE(answer["status"] == 200);
  auto info = certswap::inspect_certificate_pem(
      answer["body"]["user"]["access_cert"].get<std::string>(), "access_cert");
  REQUIRE(info);
  return info->sha256_fingerprint;
}

nlohmann::json journal(const fs::path& state_dir) {
  return nlohmann::json::parse(read(state_dir / "state.json"));
}

// Two users on one directory: `other` installs its set first, then `cli`
// (the configured user) finds it there.
struct TwoUsers {
  Cli cli;
  Cli other;
  fs::path marker;
  TwoUsers(const std::string& prefix) : cli(prefix), other(prefix + "-other") {
    other.out = cli.out;
    marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
    REQUIRE(other.run({"init"}).exit_code == 0);
    REQUIRE(live_cert(cli.out).common_name == other.user);
  }
  std::string notify() const { return "touch " + marker.string(); }
};

}  // namespace

TEST_CASE("init replaces another user's valid set, tells the apps, and names both users",
          "[identity]") {
  TwoUsers two("id-init");
  auto r = two.cli.run({"init", "--notify-exec", two.notify()});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("\"" + two.other.user + "\"") &&
                           Catch::Contains("\"" + two.cli.user + "\""));
  CHECK_THAT(r.output, !Catch::Contains("up-to-date"));
  CHECK_THAT(r.output, Catch::Contains("accepted the new set"));
  CHECK(live_cert(two.cli.out).common_name == two.cli.user);
  CHECK(live_cert(two.cli.out).sha256_fingerprint == upstream_fingerprint(two.cli, two.cli.user));
  // Apps were reading the other user's set: they must learn of the change.
  CHECK(fs::exists(two.marker));
}

TEST_CASE("rotate replaces another user's set even when it was issued later (no lagging rule)",
          "[identity]") {
  Cli cli("id-rotate");
  // The configured user's pending renewal is issued two hours before the
  // other user's set: the rule against a lagging API replica must not keep
  // another user's set.
  cli.tb.control_post("/_testbed/renew", {{"project", cli.tb.project},
                                          {"service", cli.tb.service},
                                          {"username", cli.user},
                                          {"not_before_offset_s", -7200}});
  Cli other("id-rotate-other");
  other.out = cli.out;
  REQUIRE(other.run({"init"}).exit_code == 0);
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");

  auto r = cli.run({"rotate", "--notify-exec", "touch " + marker.string()});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             Catch::Contains("not this target's") && Catch::Contains("\"" + other.user + "\""));
  CHECK_THAT(r.output, !Catch::Contains("keeping the live set"));
  CHECK(live_cert(cli.out).common_name == cli.user);
  CHECK(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(cli.tb.ack_count(other.user) == 0);
}

TEST_CASE("status flags a live set that belongs to another user", "[identity]") {
  TwoUsers two("id-status");
  auto r = two.cli.run({"status", "--offline"});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("not this target's set") &&
                           Catch::Contains("\"" + two.other.user + "\""));
  // The other user's own view is clean.
  CHECK(two.other.run({"status", "--offline"}).exit_code == 0);
}

TEST_CASE("a renewal over a damaged set notifies the apps before acknowledging", "[notify]") {
  Cli cli("damaged");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  // The live generation lost its key: the public link dangles, apps still run.
  fs::remove(cli.out / fs::read_symlink(cli.out / "..data") / "service.key");
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");

  SECTION("a notifier that fails holds the acknowledgement back and is not recorded as sent") {
    auto failed = cli.run({"rotate", "--notify-exec", "false"});
    CHECK(failed.exit_code == 6);
    CHECK_THAT(failed.output, !Catch::Contains("first install"));
    CHECK(live_cert(cli.out).sha256_fingerprint == renewed["fingerprint"].get<std::string>());
    CHECK(cli.tb.ack_count(cli.user) == 0);
    CHECK(journal(cli.out / ".certswap")["notified_fingerprint"] !=
          renewed["fingerprint"].get<std::string>());
    // Later runs owe the notification until it is sent, then acknowledge.
    auto owed = cli.run({"rotate", "--notify-exec", "touch " + marker.string()});
    CHECK(owed.exit_code == 0);
    CHECK_THAT(owed.output, Catch::Contains(": acknowledged (live"));
  }
  SECTION("a notifier that works is called") {
    auto r = cli.run({"rotate", "--notify-exec", "touch " + marker.string()});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("damaged"));
    CHECK_THAT(r.output, !Catch::Contains("first install"));
  }
  CHECK(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(fs::exists(cli.out / "service.key"));
  CHECK(journal(cli.out / ".certswap")["notified_fingerprint"] ==
        renewed["fingerprint"].get<std::string>());
}

TEST_CASE("only a directory that never held a set skips the notification", "[notify]") {
  Cli cli("never-held");
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  auto r = cli.run({"init", "--notify-exec", "touch " + marker.string()});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("never held a set"));
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a writer with another state directory waits for the output's lock", "[lock]") {
  Cli cli("lock-output");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto parked = cli.out.parent_path() / (cli.out.filename().string() + ".parked");
  const auto first_state = cli.out.parent_path() / (cli.out.filename().string() + ".state1");
  const auto second_state = cli.out.parent_path() / (cli.out.filename().string() + ".state2");
  auto env = cli.env();
  env["CERTSWAP_STATE_DIR"] = first_state.string();
  // Parked with its new generation written but not yet live.
  env["CERTSWAP_FAILPOINT_PAUSE"] = "after-generation-written";
  env["CERTSWAP_FAILPOINT_PAUSE_FILE"] = parked.string();
  testbed::BackgroundProcess first({certswap_bin(), "rotate"}, env,
                                   cli.out.string() + ".first.log");
  REQUIRE(eventually([&] { return fs::exists(parked); }, 60s));

  auto second =
      cli.run({"rotate", "--lock-timeout", "1s"}, {{"CERTSWAP_STATE_DIR", second_state.string()}});
  CHECK(second.exit_code == 7);
  CHECK_THAT(second.output, Catch::Contains("..certswap.lock"));

  fs::remove(parked);
  CHECK(first.stop(0, 60s) == 0);  // signal 0: only wait for the exit
  INFO(first.output());
  // Every public name resolves to the renewed set.
  for (auto name : {"ca.pem", "service.cert", "service.key", "bundle.pem"})
    CHECK(fs::exists(cli.out / name));
  CHECK(live_cert(cli.out).sha256_fingerprint == renewed["fingerprint"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 1);
}
