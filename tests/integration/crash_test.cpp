// Crash injection: the rotation is killed with SIGKILL at a random point, 100
// times, and restarted each time. After every kill and every restart the live
// set must be whole, the acknowledgement must never run ahead of the swap, and
// the renewed credential must never be lost.
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "certswap/cert_info.hpp"
#include "certswap/pem.hpp"
#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

// The set the apps read through the public names: every file there, the key
// belongs to the certificate. Returns the certificate's fingerprint.
std::string check_live_set_whole(const fs::path& out) {
  const std::string cert_pem = read(out / "service.cert");
  auto certs = certswap::parse_certificates(cert_pem, "live service.cert");
  REQUIRE(certs);
  auto key = certswap::parse_private_key(read(out / "service.key"), "live service.key");
  REQUIRE(key);
  CHECK(X509_check_private_key(certs->front().get(), key->get()) == 1);
  CHECK(certswap::parse_certificates(read(out / "ca.pem"), "live ca.pem"));
  return certswap::inspect_certificate_pem(cert_pem, "live")->sha256_fingerprint;
}

// What must not be left behind once a certswap run completed: a ..data_tmp, a
// half-made link, or a generation that is neither live nor the one kept for rollback.
void check_no_orphans(const fs::path& out) {
  const std::string live = fs::read_symlink(out / "..data").string();
  int generations = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    INFO(name);
    CHECK(name.find("tmp") == std::string::npos);
    if (name.starts_with("..") && name != "..data" && e.is_directory()) ++generations;
  }
  CHECK(generations <= 2);
  CHECK(fs::is_directory(out / live));
}

std::string staged_fingerprint(const fs::path& out) {
  auto state = nlohmann::json::parse(read(out / ".certswap" / "state.json"), nullptr, false);
  return state.is_object() ? state.value("staged_fingerprint", "") : "";
}

// A notifier that writes down each fingerprint it is told of, so that the
// order of notification and acknowledgement can be checked after a kill.
fs::path notify_log_script(const Cli& cli, const fs::path& log) {
  const auto script = cli.out.parent_path() / (cli.out.filename().string() + ".notify.sh");
  std::ofstream(script) << "#!/bin/sh\necho \"$CERTSWAP_FINGERPRINT\" >> " << log.string() << "\n";
  fs::permissions(script, fs::perms::owner_all);
  return script;
}

bool was_notified(const fs::path& log, const std::string& fingerprint) {
  return read(log).find(fingerprint + "\n") != std::string::npos;
}

// Starts `certswap rotate` and SIGKILLs it after `delay` (if it is still running).
int rotate_killed_after(Cli& cli, std::chrono::microseconds delay, const fs::path& notifier) {
  std::vector<std::string> args{certswap_bin(), "rotate", "--notify-exec", notifier.string()};
  const auto env = cli.env();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

TEST_CASE(
    "killed at a random point 100 times, a rotation never tears the set, never acknowledges "
    "early and always completes on restart",
    "[crash]") {
  Cli cli("crash-random");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const std::vector<std::string> points{
      "after-stage",  "after-generation-written", "after-data-rename", "after-swap",
      "after-notify", "before-acknowledge",       "after-acknowledge"};
  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::map<std::string, int> kills;  // where each run was stopped
  int acks_before = cli.tb.ack_count(cli.user);
  const int runs = 100;
  const auto notify_log = cli.out.parent_path() / (cli.out.filename().string() + ".notified");
  const auto notifier = notify_log_script(cli, notify_log);

  for (int run = 0; run < runs; ++run) {
    INFO("run " << run << " (seed " << seed << ")");
    const std::string renewed = cli.tb.renew(cli.user, fmt::format("gen{}", run))["fingerprint"];
    // Even runs stop at a named point, odd runs at a random moment of the process.
    if (run % 2 == 0) {
      const std::string& point = points[rng() % points.size()];
      INFO("failpoint " << point);
      auto killed =
          cli.run({"rotate", "--notify-exec", notifier.string()}, {{"CERTSWAP_FAILPOINT", point}});
      REQUIRE(killed.exit_code == 128 + SIGKILL);
      ++kills[point];
    } else {
      const auto delay = std::chrono::microseconds(rng() % 400'000);
      INFO("SIGKILL after " << delay.count() << " us");
      const int code = rotate_killed_after(cli, delay, notifier);
      ++kills[code == 128 + SIGKILL ? "random moment" : "random moment (finished first)"];
    }

    // After the crash: a whole set is live (old or renewed), the renewal is
    // acknowledged only if the renewed set is the live one and the apps were
    // told of it first, and the renewed credential is live or staged or still
    // on offer upstream.
    const std::string live = check_live_set_whole(cli.out);
    const int acks = cli.tb.ack_count(cli.user) - acks_before;
    CHECK((acks == 0 || acks == 1));
    if (acks == 1) {
      CHECK(live == renewed);
      CHECK(was_notified(notify_log, renewed));
    }
    CHECK((live == renewed || staged_fingerprint(cli.out) == renewed ||
           cli.tb
               .control_get("/_testbed/acks?project=" + cli.tb.project +
                            "&service=" + cli.tb.service + "&username=" + cli.user)
               .value("pending", false)));

    // The restart finishes the job exactly once and leaves nothing behind.
    auto restarted = cli.run({"rotate", "--notify-exec", notifier.string()});
    REQUIRE(restarted.exit_code == 0);
    CHECK(check_live_set_whole(cli.out) == renewed);
    CHECK(was_notified(notify_log, renewed));
    CHECK(cli.tb.ack_count(cli.user) - acks_before == 1);
    check_no_orphans(cli.out);
    acks_before = cli.tb.ack_count(cli.user);
  }

  std::string table = fmt::format("crash injection, {} runs (seed {}):\n", runs, seed);
  for (const auto& [where, n] : kills) table += fmt::format("  {:32} {}\n", where, n);
  std::cout << table;
}
