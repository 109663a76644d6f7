// The inbox source: a set dropped into a directory (avn user-creds-download,
// a mounted Secret, a view-once credential) goes through the same pipeline.
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "certswap/cert_info.hpp"
#include "cli_harness.hpp"
#include "eventually.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

// What `avn service user-creds-download` would write for the user, as it is now upstream.
void drop(const Cli& cli, const fs::path& inbox, const std::string& fault = "") {
  if (!fault.empty()) {
    cli.tb.add_fault({{"method", "GET"},
                      {"path_regex", ".*/user/" + cli.user + "$"},
                      {"count", 1},
                      {"fault", {{"kind", fault}}}});
  }
  auto user = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                    "/user/" + cli.user + "?include_secrets=true")["body"]["user"];
  auto ca = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/kms/ca")["body"]["certificate"];
  const auto staging = inbox.parent_path() / (inbox.filename().string() + ".tmp");
  fs::create_directories(staging);
  std::ofstream(staging / "ca.pem") << ca.get<std::string>();
  std::ofstream(staging / "service.cert") << user["access_cert"].get<std::string>();
  std::ofstream(staging / "service.key") << user["access_key"].get<std::string>();
  fs::create_directories(inbox);
  for (auto name : {"ca.pem", "service.cert", "service.key"})
    fs::rename(staging / name, inbox / name);
}

std::string live_fingerprint(const fs::path& out) {
  auto info = certswap::inspect_certificate_pem(read(out / "service.cert"), "live");
  return info ? info->sha256_fingerprint : "";
}

// An inbox target that names no Aiven user: it asks the API nothing.
const std::map<std::string, std::string> kOffline = {{"CERTSWAP_USER", ""},
                                                     {"CERTSWAP_TOKEN_FILE", ""},
                                                     {"CERTSWAP_API_URL", "https://127.0.0.1:1"}};

}  // namespace

TEST_CASE(
    "a set dropped into the inbox is validated, swapped, acknowledged for the named user and "
    "cleared",
    "[inbox]") {
  Cli cli("inbox");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  auto renewed = cli.tb.renew(cli.user, "dropped");
  drop(cli, inbox);
  auto r = cli.run({"rotate", "--source", "inbox", "--inbox-dir", inbox.string()});
  REQUIRE(r.exit_code == 0);
  CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(fs::is_empty(inbox));
  auto again = cli.run({"rotate", "--source", "inbox", "--inbox-dir", inbox.string()});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("nothing new on offer"));
}

TEST_CASE("a bad set in the inbox is refused, stays in the inbox, and the live set stays",
          "[inbox]") {
  Cli cli("inbox-bad");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  drop(cli, inbox, "foreign_ca_cert");
  auto r = cli.run({"rotate", "--source", "inbox", "--inbox-dir", inbox.string()});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("inbox " + inbox.string()) &&
                           Catch::Contains("not by the project CA"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(fs::exists(inbox / "service.key"));
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("an inbox target without an Aiven user needs no API token and acknowledges nothing",
          "[inbox]") {
  Cli cli("inbox-offline");
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  auto renewed = cli.tb.renew(cli.user, "offline");
  drop(cli, inbox);
  auto r = cli.run(
      {"init", "--source", "inbox", "--inbox-dir", inbox.string(), "--bootstrap", cli.tb.bootstrap},
      kOffline);
  REQUIRE(r.exit_code == 0);
  CHECK(live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("the sidecar takes an inbox drop at once, not at the next poll", "[inbox][daemon]") {
  Cli cli("inbox-sidecar");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  fs::create_directories(inbox);
  testbed::BackgroundProcess sidecar({certswap_bin(), "run", "--poll-interval", "10m", "--listen",
                                      "", "--source", "inbox", "--inbox-dir", inbox.string()},
                                     cli.env(), cli.out.string() + ".sidecar.log");
  // The start-up check found the inbox empty: only the watch can take the drop below.
  REQUIRE(eventually(
      [&] { return sidecar.output().find("nothing new on offer") != std::string::npos; }));
  auto renewed = cli.tb.renew(cli.user, "dropped-live");
  drop(cli, inbox);
  CHECK(eventually(
      [&] { return live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>(); }, 15s));
  CHECK(sidecar.stop(SIGTERM) == 0);
  INFO(sidecar.output());
}

TEST_CASE(
    "a FIFO in the inbox is refused by name without hanging the sidecar, which then takes the "
    "regular file that replaces it",
    "[inbox][daemon]") {
  Cli cli("inbox-fifo");
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  auto renewed = cli.tb.renew(cli.user, "after-fifo");
  drop(cli, inbox);
  const auto cert = read(inbox / "service.cert");
  fs::remove(inbox / "service.cert");
  REQUIRE(::mkfifo((inbox / "service.cert").c_str(), 0600) == 0);
  testbed::BackgroundProcess sidecar(
      {certswap_bin(), "run", "--poll-interval", "10m", "--listen", "", "--source", "inbox",
       "--inbox-dir", inbox.string(), "--bootstrap", cli.tb.bootstrap},
      [&] {
        auto env = cli.env();
        for (const auto& [k, v] : kOffline) env[k] = v;
        return env;
      }(),
      cli.out.string() + ".sidecar.log");
  const std::string refused = (inbox / "service.cert").string() + " is not a regular file";
  REQUIRE(eventually([&] { return sidecar.output().find(refused) != std::string::npos; }));
  const auto staging = inbox.parent_path() / (inbox.filename().string() + ".cert");
  std::ofstream(staging) << cert;
  fs::rename(staging, inbox / "service.cert");
  CHECK(eventually(
      [&] { return live_fingerprint(cli.out) == renewed["fingerprint"].get<std::string>(); }, 15s));
  CHECK(sidecar.stop(SIGTERM) == 0);
  INFO(sidecar.output());
}

TEST_CASE("a set dropped while the previous one is being installed stays for the next check",
          "[inbox]") {
  Cli cli("inbox-midway");
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  const auto parked = cli.out.parent_path() / (cli.out.filename().string() + ".parked");
  auto first = cli.tb.renew(cli.user, "first");
  drop(cli, inbox);
  auto env = cli.env();
  for (const auto& [k, v] : kOffline) env[k] = v;
  env["CERTSWAP_FAILPOINT_PAUSE"] = "after-swap";  // failpoint.hpp
  env["CERTSWAP_FAILPOINT_PAUSE_FILE"] = parked.string();
  const std::vector<std::string> rotate{certswap_bin(), "rotate",        "--source",
                                        "inbox",        "--inbox-dir",   inbox.string(),
                                        "--bootstrap",  cli.tb.bootstrap};
  testbed::BackgroundProcess installing(rotate, env, cli.out.string() + ".rotate.log");
  REQUIRE(eventually([&] { return fs::exists(parked); }, 30s));
  auto second = cli.tb.renew(cli.user, "second");
  drop(cli, inbox);
  fs::remove(parked);
  CHECK(installing.stop(0, 30s) == 0);  // signal 0: only wait for the exit
  INFO(installing.output());
  CHECK(live_fingerprint(cli.out) == first["fingerprint"].get<std::string>());
  for (auto name : {"ca.pem", "service.cert", "service.key"}) CHECK(fs::exists(inbox / name));
  auto next = cli.run({rotate.begin() + 1, rotate.end()}, kOffline);
  CHECK(next.exit_code == 0);
  CHECK(live_fingerprint(cli.out) == second["fingerprint"].get<std::string>());
  CHECK(fs::is_empty(inbox));
}
