#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "notifiers/exec/exec_notifier.hpp"
#include "notifiers/http/http_notifier.hpp"
#include "notifiers/signal/signal_notifier.hpp"
#include "temp_dir.hpp"

using namespace certswap;
using namespace certswap::plugins;
using namespace std::chrono_literals;

namespace {
SwapEvent event() {
  return {"orders", "/out/orders", "..gen", "abc123", "2029-01-01T00:00:00Z"};
}
}  // namespace

TEST_CASE("signal names parse with or without SIG, and numbers and refuse unknown names") {
  CHECK(parse_signal("SIGHUP").value() == SIGHUP);
  CHECK(parse_signal("USR1").value() == SIGUSR1);
  CHECK(parse_signal("15").value() == SIGTERM);
  auto bad = parse_signal("SIGNOPE");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("SIGNOPE"));
}

TEST_CASE("the signal notifier re-reads the pidfile at every notification") {
  const auto pidfile = std::filesystem::temp_directory_path() /
                       ("certswap-notifier-" + std::to_string(getpid()) + ".pid");
  std::ofstream(pidfile) << getpid() << "\n";
  SignalNotifier notifier(0, pidfile, SIGUSR2, "SIGUSR2");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  REQUIRE(notifier.notify(event()));
  timespec zero{0, 0};
  CHECK(sigtimedwait(&set, nullptr, &zero) == SIGUSR2);

  std::ofstream(pidfile, std::ios::trunc) << "999999\n";
  auto gone = notifier.notify(event());
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorKind::Notify);
  CHECK_THAT(gone.error().message, Catch::Contains("999999") && Catch::Contains("gone"));

  std::filesystem::remove(pidfile);
  CHECK_THAT(notifier.notify(event()).error().message, Catch::Contains(pidfile.string()));
}

TEST_CASE("the exec notifier passes the new set in the environment and fails on a non-zero exit") {
  const auto out =
      std::filesystem::temp_directory_path() / ("certswap-exec-" + std::to_string(getpid()));
  ExecNotifier ok(
      {"/bin/sh", "-c",
       "echo \"$CERTSWAP_TARGET $CERTSWAP_FINGERPRINT $CERTSWAP_KEY_FILE\" > " + out.string()},
      5s);
  REQUIRE(ok.notify(event()));
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  CHECK(line == "orders abc123 /out/orders/service.key");
  std::filesystem::remove(out);

  ExecNotifier failing({"/bin/sh", "-c", "exit 3"}, 5s);
  CHECK_THAT(failing.notify(event()).error().message, Catch::Contains("exited with status 3"));
  ExecNotifier missing({"/nonexistent/reload"}, 5s);
  CHECK_FALSE(missing.notify(event()));
  ExecNotifier slow({"/bin/sleep", "10"}, 300ms);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(slow.notify(event()).error().message, Catch::Contains("did not finish within 300 ms"));
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

namespace {
std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The hex mask that /proc/<pid>/status shows on the line starting with `field`.
unsigned long long status_mask(const std::string& status, const std::string& field) {
  const auto at = status.find("\n" + field + ":");
  REQUIRE(at != std::string::npos);
  return std::stoull(status.substr(at + field.size() + 2), nullptr, 16);
}
}  // namespace

TEST_CASE("an exec command starts with default signals and only the environment it is given") {
  certswap_test::TempDir dir("certswap-exec-clean", true);
  const auto env_file = dir.path / "env";
  const auto status_file = dir.path / "status";
  ::setenv("AIVEN_AUTH_TOKEN", "token-the-hook-must-not-see", 1);
  ::setenv("UNIT_PASSED_ON", "passed-on", 1);
  // What the sidecar does for its signalfd, and an ignored signal as a parent
  // shell's `trap '' USR1` leaves it.
  sigset_t blocked;
  sigset_t previous_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous_mask);
  struct sigaction ignore {};
  struct sigaction previous_usr1 {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ignore, &previous_usr1);

  // cp reads its own status (a shell would clear the blocked mask itself).
  ExecNotifier signals({"/bin/cp", "/proc/self/status", status_file.string()}, 5s);
  ExecNotifier environment({"/bin/sh", "-c", "env > \"$1\"", "sh", env_file.string()}, 5s,
                           {"UNIT_PASSED_ON"});
  auto signals_result = signals.notify(event());
  auto environment_result = environment.notify(event());

  sigaction(SIGUSR1, &previous_usr1, nullptr);
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::unsetenv("AIVEN_AUTH_TOKEN");
  ::unsetenv("UNIT_PASSED_ON");
  REQUIRE(signals_result);
  REQUIRE(environment_result);

  const auto status = read_all(status_file);
  CHECK(status_mask(status, "SigBlk") == 0);
  // glibc keeps its own signals 32 and 33 (bits 31 and 32) ignored in every process.
  constexpr unsigned long long glibc_internal = (1ULL << 31) | (1ULL << 32);
  CHECK((status_mask(status, "SigIgn") & ~glibc_internal) == 0);

  const auto env = "\n" + read_all(env_file);
  CHECK_THAT(env, !Catch::Contains("AIVEN_AUTH_TOKEN") && !Catch::Contains("token-the-hook"));
  CHECK_THAT(env, Catch::Contains("\nUNIT_PASSED_ON=passed-on\n"));
  CHECK_THAT(env, Catch::Contains("\nCERTSWAP_TARGET=orders\n") && Catch::Contains("\nPATH="));
}

TEST_CASE("an exec command is done when it exits, even if a child it left keeps its output open") {
  certswap_test::TempDir dir("certswap-exec-background", true);
  const auto pid_file = dir.path / "pid";
  ExecNotifier backgrounding(
      {"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; echo started", "sh", pid_file.string()}, 20s);
  auto r = backgrounding.notify(event());
  if (auto left_behind = std::atoi(read_all(pid_file).c_str()); left_behind > 0)
    ::kill(left_behind, SIGKILL);
  CHECK(r);

  // The other way round: output closed early does not end the wait, the timeout still holds.
  ExecNotifier silent_but_slow({"/bin/sh", "-c", "exec >/dev/null 2>&1; exec sleep 10"}, 300ms);
  auto slow = silent_but_slow.notify(event());
  REQUIRE_FALSE(slow);
  CHECK_THAT(slow.error().message, Catch::Contains("did not finish within 300 ms"));
}

TEST_CASE("the http notifier fails on a server that answers too late") {
  httplib::Server server;
  server.Post("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(1500ms);
    res.status = 200;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  HttpNotifier notifier("http://127.0.0.1:" + std::to_string(port) + "/slow", 300ms);
  auto r = notifier.notify(event());
  server.stop();
  thread.join();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Notify);
  CHECK_THAT(r.error().message, Catch::Contains("/slow"));
}
