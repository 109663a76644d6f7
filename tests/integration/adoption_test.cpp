// A directory that `avn service user-creds-download` filled (three plain
// files) is a live set: a renewal is validated at the broker, the apps are
// told, and only then is it acknowledged; the move to the ..data layout never
// shows a certificate and key that don't match.
#include <csignal>

#include "certswap/offline_validator.hpp"
#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

// What `avn service user-creds-download -d DIR` writes (aiven-client cli.py).
void write_avn_download(Cli& cli) {
  auto user = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                    "/user/" + cli.user + "?include_secrets=true");
  auto ca = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/kms/ca");
  REQUIRE(user["status"] == 200);
  REQUIRE(ca["status"] == 200);
  std::ofstream(cli.out / "service.cert") << user["body"]["user"]["access_cert"].get<std::string>();
  std::ofstream(cli.out / "service.key") << user["body"]["user"]["access_key"].get<std::string>();
  std::ofstream(cli.out / "ca.pem") << ca["body"]["certificate"].get<std::string>();
  cli.remember_key(user["body"]["user"]["access_key"].get<std::string>());
}

// The pair an app gets by opening the public names, checked as certswap would.
std::string public_pair_fingerprint(const Cli& cli) {
  certswap::CredentialSet set{read(cli.out / "ca.pem"), read(cli.out / "service.cert"),
                              read(cli.out / "service.key"), "public names"};
  auto info = certswap::validate_offline(
      set, certswap::OfflinePolicy{std::chrono::seconds(300), std::chrono::seconds(0)},
      std::chrono::system_clock::now());
  INFO((info ? "" : info.error().message));
  REQUIRE(info);
  return info->sha256_fingerprint;
}

}  // namespace

TEST_CASE("plain files from avn are the live set: broker check, apps told, then acknowledged",
          "[adoption]") {
  Cli cli("adopt");
  write_avn_download(cli);
  const auto old_fp = public_pair_fingerprint(cli);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");

  auto r = cli.run({"rotate", "--notify-exec", "touch " + marker.string()});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("a new certificate is available"));
  CHECK_THAT(r.output, Catch::Contains("accepted the new set"));
  CHECK_THAT(r.output, !Catch::Contains("offline validation alone"));
  CHECK(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(fs::is_symlink(cli.out / "..data"));
  for (auto name : {"service.cert", "service.key", "ca.pem"}) CHECK(fs::is_symlink(cli.out / name));
  CHECK(public_pair_fingerprint(cli) == renewed["fingerprint"].get<std::string>());
  CHECK(public_pair_fingerprint(cli) != old_fp);
}

TEST_CASE("adoption killed at each step leaves a matching pair and the next run finishes it",
          "[adoption][crash]") {
  for (std::string point : {"adopt-after-data-rename", "adopt-after-first-link",
                            "after-generation-written", "after-swap"}) {
    DYNAMIC_SECTION("killed " << point) {
      Cli cli("adopt-" + point);
      write_avn_download(cli);
      const auto old_fp = public_pair_fingerprint(cli);
      auto renewed = cli.tb.renew(cli.user, "gen2");
      const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
      const std::string notify = "touch " + marker.string();

      auto killed = cli.run({"rotate", "--notify-exec", notify}, {{"CERTSWAP_FAILPOINT", point}});
      REQUIRE(killed.exit_code == 128 + SIGKILL);
      // Before the swap the apps see the old pair whole; after it, the new one.
      const auto fp = public_pair_fingerprint(cli);
      CHECK(fp == (point == "after-swap" ? renewed["fingerprint"].get<std::string>() : old_fp));
      CHECK(cli.tb.ack_count(cli.user) == 0);

      auto r = cli.run({"rotate", "--notify-exec", notify});
      REQUIRE(r.exit_code == 0);
      CHECK(public_pair_fingerprint(cli) == renewed["fingerprint"].get<std::string>());
      CHECK(fs::exists(marker));
      CHECK(cli.tb.ack_count(cli.user) == 1);
    }
  }
}
