// A directory that `avn service user-creds-download` filled (three plain
// files) is a live set: a renewal is validated at the broker, the apps are
// told, and only then is it acknowledged; the move to the ..data layout never
// shows a certificate and key that don't match.
#include <fmt/ranges.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "certswap/offline_validator.hpp"
#include "cli_harness.hpp"
#include "eventually.hpp"

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

namespace {

// An app that opens every public name in a loop, as apps do on reconnect:
// each open of a name that does not resolve is a failed read.
class ReaderLoop {
 public:
  explicit ReaderLoop(fs::path out) : out_(std::move(out)), thread_([this] { loop(); }) {}
  ~ReaderLoop() { stop(); }
  // Waits for the loop to end; returns its failed reads, one line each.
  std::vector<std::string> stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
    return failures_;
  }
  int reads() const { return reads_; }

 private:
  void loop() {
    while (!done_) {
      for (auto name : {"ca.pem", "service.cert", "service.key", "bundle.pem"}) {
        std::ifstream in(out_ / name, std::ios::binary);
        if (!in && failures_.size() < 20) failures_.push_back(name);
        ++reads_;
      }
    }
  }
  fs::path out_;
  std::atomic<bool> done_{false};
  std::atomic<int> reads_{0};
  std::vector<std::string> failures_;
  std::thread thread_;
};

// What an admin does after `avn service user-creds-download` of the renewed
// pair into a directory certswap manages: move service.cert and service.key
// over the links, leaving ca.pem and bundle.pem links into ..data.
std::string drop_renewed_pair_over_links(Cli& cli) {
  auto user = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                    "/user/" + cli.user + "?include_secrets=true");
  REQUIRE(user["status"] == 200);
  cli.remember_key(user["body"]["user"]["access_key"].get<std::string>());
  for (auto [name, field] :
       {std::pair{"service.cert", "access_cert"}, {"service.key", "access_key"}}) {
    const auto tmp = cli.out / (std::string(name) + ".avn");
    std::ofstream(tmp) << user["body"]["user"][field].get<std::string>();
    fs::rename(tmp, cli.out / name);
  }
  REQUIRE(fs::is_symlink(cli.out / "ca.pem"));
  REQUIRE(fs::is_symlink(cli.out / "bundle.pem"));
  return public_pair_fingerprint(cli);
}

void every_name_resolves(const Cli& cli) {
  for (auto name : {"ca.pem", "service.cert", "service.key", "bundle.pem"}) {
    INFO(name);
    CHECK(fs::exists(cli.out / name));  // follows the links: false when one dangles
  }
}

}  // namespace

TEST_CASE("a directory part plain files, part links is adopted without a dangling name",
          "[adoption]") {
  Cli cli("adopt-mix");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto dropped = drop_renewed_pair_over_links(cli);
  REQUIRE(dropped == renewed["fingerprint"].get<std::string>());
  const auto marker = cli.out.parent_path() / (cli.out.filename().string() + ".notified");

  ReaderLoop readers(cli.out);
  REQUIRE(eventually([&] { return readers.reads() > 100; }));
  auto r = cli.run({"rotate", "--notify-exec", "touch " + marker.string()});
  const auto failed = readers.stop();
  REQUIRE(r.exit_code == 0);
  INFO("failed reads of: " << fmt::format("{}", fmt::join(failed, ", ")));
  CHECK(failed.empty());
  every_name_resolves(cli);
  for (auto name : {"service.cert", "service.key", "ca.pem", "bundle.pem"})
    CHECK(fs::is_symlink(cli.out / name));
  CHECK(public_pair_fingerprint(cli) == renewed["fingerprint"].get<std::string>());
  CHECK(read(cli.out / "bundle.pem").find(read(cli.out / "service.cert")) != std::string::npos);
  CHECK(fs::exists(marker));
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("a mixed directory's adoption killed at each step never leaves a name dangling",
          "[adoption][crash]") {
  for (std::string point : {"adopt-after-data-rename", "adopt-after-first-link",
                            "after-generation-written", "after-data-rename"}) {
    DYNAMIC_SECTION("killed " << point) {
      Cli cli("adopt-mix-" + point);
      REQUIRE(cli.run({"init"}).exit_code == 0);
      auto renewed = cli.tb.renew(cli.user, "gen2");
      drop_renewed_pair_over_links(cli);

      auto killed = cli.run({"rotate"}, {{"CERTSWAP_FAILPOINT", point}});
      REQUIRE(killed.exit_code == 128 + SIGKILL);
      every_name_resolves(cli);
      CHECK(public_pair_fingerprint(cli) == renewed["fingerprint"].get<std::string>());
      CHECK(cli.tb.ack_count(cli.user) == 0);

      // Every later run works, and status sees a live set.
      CHECK(cli.run({"status", "--offline"}).exit_code == 0);
      auto r = cli.run({"rotate"});
      REQUIRE(r.exit_code == 0);
      every_name_resolves(cli);
      CHECK(public_pair_fingerprint(cli) == renewed["fingerprint"].get<std::string>());
      CHECK(read(cli.out / "bundle.pem").find(read(cli.out / "service.cert")) != std::string::npos);
      CHECK(cli.tb.ack_count(cli.user) == 1);
      CHECK(cli.run({"init"}).exit_code == 0);
    }
  }
}
