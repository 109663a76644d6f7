// One writer at a time, readers that change nothing, and a live set that a
// failed fsync after the ..data rename does not take away from the apps.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "certswap/offline_validator.hpp"
#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

// One sample of the live set as a careful app reads it: one resolution of
// ..data, every file from that generation. nullopt when a swap moved ..data
// while it read (the sample says nothing then).
std::optional<certswap::CredentialSet> sample_live(const fs::path& out) {
  std::error_code ec;
  const auto gen = fs::read_symlink(out / "..data", ec);
  if (ec) return std::nullopt;
  certswap::CredentialSet set{read(out / gen / "ca.pem"), read(out / gen / "service.cert"),
                              read(out / gen / "service.key"), "sample"};
  if (fs::read_symlink(out / "..data", ec) != gen || ec) return std::nullopt;
  return set;
}

}  // namespace

TEST_CASE("status changes nothing on disk, not even by creating the directory", "[lock]") {
  Cli cli("status-readonly");
  const auto missing = cli.out / "not-yet";
  auto r = cli.run({"status", "--offline"}, {{"CERTSWAP_OUTPUT_DIR", missing.string()}});
  CHECK(r.exit_code == 3);
  CHECK_FALSE(fs::exists(missing));

  REQUIRE(cli.run({"init"}).exit_code == 0);
  // What a crashed publish leaves: a generation newer than ..data. Only a
  // writer, under the lock, may clean it up.
  const auto orphan = cli.out / "..9999_01_01_00_00_00.000000000";
  fs::create_directory(orphan);
  auto s = cli.run({"status", "--offline"});
  CHECK(s.exit_code == 0);
  CHECK(fs::exists(orphan));
  REQUIRE(cli.run({"rotate"}).exit_code == 0);
  CHECK_FALSE(fs::exists(orphan));
}

TEST_CASE("a second writer waits for the lock, then gives up naming the holder", "[lock]") {
  Cli cli("lock-held");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto lock_path = cli.out / ".certswap" / "lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  const std::string me = std::to_string(::getpid()) + "\n";
  REQUIRE(::ftruncate(fd, 0) == 0);
  REQUIRE(::pwrite(fd, me.data(), me.size(), 0) == static_cast<ssize_t>(me.size()));
  cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);

  auto r = cli.run({"rotate", "--lock-timeout", "1s"});
  CHECK(r.exit_code == 7);
  CHECK_THAT(r.output, Catch::Contains("pid " + std::to_string(::getpid())) &&
                           Catch::Contains("--lock-timeout"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);

  ::close(fd);  // the kernel drops the lock with the descriptor, as on a crash
  CHECK(cli.run({"rotate", "--lock-timeout", "1s"}).exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE(
    "rotations beside a status loop and a second writer: every one succeeds, the live "
    "set always matches",
    "[lock][slow]") {
  Cli cli("lock-race");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto bin = certswap_bin();
  const auto env = cli.env();
  std::atomic<bool> done{false};
  std::vector<testbed::ProcessResult> main_runs, other_runs, status_runs;

  std::thread second([&] {
    while (!done) other_runs.push_back(testbed::run_process({bin, "rotate", "--force"}, env));
  });
  std::thread status([&] {
    while (!done) status_runs.push_back(testbed::run_process({bin, "status", "--offline"}, env));
  });
  std::thread first([&] {
    for (int i = 0; i < 50; ++i)
      main_runs.push_back(testbed::run_process({bin, "rotate", "--force"}, env));
    done = true;
  });

  int samples = 0, mismatched = 0;
  std::string first_problem;
  while (!done || samples < 1000) {
    auto set = sample_live(cli.out);
    if (!set) continue;
    ++samples;
    auto valid = certswap::validate_offline(
        *set, certswap::OfflinePolicy{std::chrono::seconds(300), std::chrono::seconds(0)},
        std::chrono::system_clock::now());
    if (!valid) {
      ++mismatched;
      if (first_problem.empty()) first_problem = valid.error().message;
    }
    // Every public name resolves, through the links the apps open.
    if (!fs::exists(cli.out / "service.key") || !fs::exists(cli.out / "service.cert")) {
      ++mismatched;
      if (first_problem.empty()) first_problem = "a public name dangles";
    }
  }
  first.join();
  second.join();
  status.join();

  INFO(first_problem);
  CHECK(samples >= 1000);
  CHECK(mismatched == 0);
  CHECK(main_runs.size() == 50);
  for (const auto* runs : {&main_runs, &other_runs, &status_runs}) {
    for (const auto& run : *runs) {
      INFO(run.output);
      CHECK(run.exit_code == 0);
    }
  }
  CHECK_FALSE(other_runs.empty());
  CHECK_FALSE(status_runs.empty());
}

TEST_CASE("a failed fsync after the ..data rename keeps the now-live generation", "[lock]") {
  Cli cli("fsync-after-rename");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  auto r = cli.run({"rotate"}, {{"CERTSWAP_FAILPOINT_ERROR", "fsync-after-data-rename"}});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Catch::Contains("the new set is live"));
  // ..data points at a generation that exists, and every name resolves.
  const auto gen = fs::read_symlink(cli.out / "..data");
  CHECK(fs::is_directory(cli.out / gen));
  for (auto name : {"service.cert", "service.key", "ca.pem"}) CHECK(fs::exists(cli.out / name));
  auto set = sample_live(cli.out);
  REQUIRE(set);
  auto info = certswap::validate_offline(
      *set, certswap::OfflinePolicy{std::chrono::seconds(300), std::chrono::seconds(0)},
      std::chrono::system_clock::now());
  REQUIRE(info);
  CHECK(info->sha256_fingerprint == renewed["fingerprint"].get<std::string>());
  // Not told, not acknowledged: the next run owes both, in order.
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(cli.run({"rotate"}).exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}
