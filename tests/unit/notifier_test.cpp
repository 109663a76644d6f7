#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "notifiers/exec/exec_notifier.hpp"
#include "notifiers/http/http_notifier.hpp"
#include "notifiers/signal/signal_notifier.hpp"

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
