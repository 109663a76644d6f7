// `certswap run` as a sidecar on the test bed: the loop, the endpoint, the
// repair of a damaged live set, isolation of a failing target, SIGTERM, each
// notifier with its failure modes, and its request rate under API and broker
// faults.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli_harness.hpp"
#include "eventually.hpp"
#include "notify_socket.hpp"
#include "tcp_gate.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

using testbed::free_port;

// A sidecar for one Cli target, with its endpoint on a free port.
struct Sidecar {
  int port = free_port();
  std::unique_ptr<testbed::BackgroundProcess> process;

  Sidecar(Cli& cli, std::vector<std::string> extra = {}, const std::string& poll = "1s",
          const std::map<std::string, std::string>& extra_env = {}) {
    std::vector<std::string> argv{certswap_bin(),
                                  "run",
                                  "--poll-interval",
                                  poll,
                                  "--renewal-poll-interval",
                                  poll,
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto env = cli.env();
    for (const auto& [name, value] : extra_env) env[name] = value;  // as Cli::run does
    process = std::make_unique<testbed::BackgroundProcess>(
        argv, env,
        (cli.out.parent_path() / (cli.out.filename().string() + ".sidecar.log")).string());
    REQUIRE(eventually([&] { return get("/healthz").first == 200; }, 10s));
  }

  std::pair<int, std::string> get(const std::string& path) const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    auto r = c.Get(path.c_str());
    return r ? std::pair{r->status, r->body} : std::pair{0, std::string()};
  }
};

// When the emulator answered each GET of this Cli's user, in order, in its
// monotonic milliseconds (each check asks once per attempt).
std::vector<std::int64_t> user_get_times(const Cli& cli) {
  const std::string user_path = "/user/" + cli.user;
  std::vector<std::int64_t> times;
  for (const auto& r : cli.tb.control_get("/_testbed/requests"))
    if (r.value("method", "") == "GET" && r.value("path", "").ends_with(user_path))
      times.push_back(r.value("monotonic_ms", std::int64_t{0}));
  return times;
}

// How many times the emulator was asked for this Cli's user.
std::size_t user_gets(const Cli& cli) {
  return user_get_times(cli).size();
}

// The name the sidecar gives the one target of a Cli's environment.
std::string target_name(const Cli& cli) {
  return cli.tb.project + "/" + cli.tb.service + "/" + cli.user;
}

// The checks of a Cli's target that asked the API, as the sidecar's log tells
// them: one entry per check that has ended (its `check` step line came after a
// `fetch` step line), holding the GETs of the user it made: one per `fetch`
// line, and one more for each "retrying in" line about the user's URL. Checks
// that only repaired the disk (no fetch) are left out.
std::vector<int> api_attempts_per_check(const std::string& log, const Cli& cli) {
  const auto target = target_name(cli);
  const auto user_url = "/user/" + cli.user + "?";
  std::vector<int> attempts;
  int gets = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    // A text record: time, level, then the step's target and name.
    std::istringstream words(line);
    std::string time, level, name, step;
    words >> time >> level >> name >> step;
    if (line.contains(user_url) && line.contains("; retrying in ")) {
      ++gets;
    } else if (name == target && step == "fetch") {
      ++gets;
    } else if (name == target && step == "check" && gets > 0) {
      attempts.push_back(gets);
      gets = 0;
    }
  }
  return attempts;
}

// Whether a sidecar has recorded when it checks next (the default state
// directory's journal): the last thing a check does that shows from outside
// (daemon.cpp, record_next_check), so a check has ended.
bool next_check_recorded(const Cli& cli) {
  const auto state =
      nlohmann::json::parse(read(cli.out / ".certswap" / "state.json"), nullptr, false);
  return state.is_object() && state.value("next_check", std::int64_t{0}) > 0;
}

// The least a check waits after `failures` failed checks in a row: the lower
// end of the jitter (half) of 5 s doubled per failure, at most 15 min
// (daemon.cpp): 5 s after the first, 10 s after the second.
std::chrono::milliseconds least_backoff(int failures) {
  return std::min<std::chrono::milliseconds>(15min, 5s * (1LL << failures)) / 2;
}

// A sidecar's checks of a Cli's target that keeps failing, seen from both
// sides once the third check that asks the API has asked.
struct FailingChecks {
  std::vector<int> gets_per_check;      // of the checks that had ended, from the sidecar's log
  std::vector<std::int64_t> get_times;  // of every GET of the user since, read after the log
  std::size_t gets_before_log = 0;      // the GETs the emulator had seen just before the log
};

// `before`: the GETs of the user before the sidecar started; `before_log` runs
// just before the log is read (to read another counter in step with it). Two
// back-offs of at most 10 s and 20 s and the retries of three checks: a slow
// machine only makes this take longer; the bound only catches a hang.
FailingChecks wait_for_third_check(
    const Cli& cli, const Sidecar& sidecar, std::size_t before,
    const std::function<void()>& before_log = [] {}) {
  FailingChecks seen;
  const bool third = eventually(
      [&] {
        seen.gets_before_log = user_gets(cli) - before;
        before_log();
        seen.gets_per_check = api_attempts_per_check(sidecar.process->output(), cli);
        seen.get_times = user_get_times(cli);
        // (A request log cleared meanwhile is shorter: no erase past its end.)
        seen.get_times.erase(seen.get_times.begin(),
                             seen.get_times.begin() + static_cast<std::ptrdiff_t>(
                                                          std::min(before, seen.get_times.size())));
        const auto& per_check = seen.gets_per_check;
        return per_check.size() >= 2 &&
               seen.get_times.size() > static_cast<std::size_t>(per_check[0] + per_check[1]);
      },
      120s);
  REQUIRE(third);
  return seen;
}

// What backoff guarantees whatever the machine's speed. Retries are counted
// per check: at most 4 GETs each (RetryPolicy::max_attempts), by the
// sidecar's log, and by the API's, no more than the checks that had ended
// and the one in flight may make. Between one check's last GET and the
// next one's first, at least the least backoff after that many failures in a
// row: the emulator stamps a GET before it answers, so a check's last one
// comes before the check ended and the next check's first after its backoff.
// The spacing is printed, not bounded above.
void check_backoff(const FailingChecks& seen, const std::string& what) {
  const auto& per_check = seen.gets_per_check;
  for (const int gets : per_check) CHECK(gets <= 4);
  CHECK(seen.gets_before_log <= 4 * (per_check.size() + 1));
  // Every GET the log tells of reached the API, so the log tells the checks
  // apart in the API's request log.
  std::size_t next = 0;  // the first GET of the next check
  for (const int gets : per_check) next += static_cast<std::size_t>(gets);
  REQUIRE(seen.get_times.size() >= next);
  next = 0;
  for (std::size_t k = 0; k < per_check.size(); ++k) {
    next += static_cast<std::size_t>(per_check[k]);
    if (next >= seen.get_times.size()) break;  // the next check has not asked yet
    const auto spacing = std::chrono::milliseconds(seen.get_times[next] - seen.get_times[next - 1]);
    const auto least = least_backoff(static_cast<int>(k) + 1);
    std::cout << what << ": check " << k + 1 << " asked " << per_check[k]
              << " time(s); the next check asked " << spacing.count()
              << " ms after its last GET (backoff at least " << least.count() << " ms)\n";
    CHECK(spacing >= least - 1ms);  // both stamps in whole milliseconds
  }
}

fs::path write_script(const fs::path& dir, const std::string& name, const std::string& body) {
  const auto path = dir / name;
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

}  // namespace

TEST_CASE("the sidecar rotates after a renewal, notifies, acknowledges once and stays ready",
          "[daemon]") {
  Cli cli("sidecar");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto events = cli.out.parent_path() / (cli.out.filename().string() + ".events");
  const auto hook =
      write_script(cli.out.parent_path(), cli.out.filename().string() + ".hook",
                   "echo \"$CERTSWAP_FINGERPRINT $CERTSWAP_CERT_FILE\" >> " + events.string());
  const auto generations_after_init =
      std::distance(fs::directory_iterator(cli.out), fs::directory_iterator{});
  Sidecar sidecar(cli, {"--notify-exec", hook.string()});
  REQUIRE(eventually([&] { return sidecar.get("/readyz").first == 200; }));
  // What init installed is not swapped again.
  CHECK_THAT(sidecar.get("/metrics").second,
             Catch::Contains("certswap_rotations_total{target=\"test-project/kafka-test/" +
                             cli.user + "\"} 0"));
  CHECK(std::distance(fs::directory_iterator(cli.out), fs::directory_iterator{}) ==
        generations_after_init);

  auto renewed = cli.tb.renew(cli.user, "gen2");
  bool always_ready = true;
  REQUIRE(eventually([&] {
    always_ready = always_ready && sidecar.get("/readyz").first == 200;
    return cli.tb.ack_count(cli.user) == 1;
  }));
  CHECK(always_ready);
  CHECK_THAT(read(events), Catch::Contains(renewed["fingerprint"].get<std::string>() + " " +
                                           (cli.out / "service.cert").string()));
  // The API records the acknowledgement a moment before certswap counts it.
  const std::string acked =
      "certswap_acknowledgements_total{target=\"test-project/kafka-test/" + cli.user + "\"} 1";
  CHECK(eventually([&] { return sidecar.get("/metrics").second.find(acked) != std::string::npos; },
                   2s));
  const auto metrics = sidecar.get("/metrics").second;
  CHECK_THAT(metrics, Catch::Contains("certswap_rotations_total{target=\"test-project/kafka-test/" +
                                      cli.user + "\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("outcome=\"accepted\""));
  // Two more polls that asked the API and ended: nothing more to acknowledge.
  // The check that acknowledged may still be ending: three more ends.
  const auto polled = api_attempts_per_check(sidecar.process->output(), cli).size();
  REQUIRE(eventually(
      [&] { return api_attempts_per_check(sidecar.process->output(), cli).size() >= polled + 3; }));
  CHECK(cli.tb.ack_count(cli.user) == 1);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
  const auto output = sidecar.process->output();
  CHECK(output.find("PRIVATE KEY") == std::string::npos);
  CHECK(output.find(cli.tb.token()) == std::string::npos);
}

TEST_CASE("the agent is not ready while its directory holds another user's set", "[daemon]") {
  Cli cli("ready-identity");
  Cli other("ready-identity-other");
  other.out = cli.out;
  REQUIRE(other.run({"init"}).exit_code == 0);
  // The API fails for the configured user, so the other user's set stays.
  struct ClearFaults {
    const testbed::Testbed& tb;
    ~ClearFaults() { tb.clear_faults(); }
  } cleared{cli.tb};
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user + "$"},
                    {"count", 100000},
                    {"fault", {{"kind", "status"}, {"status", 404}}}});
  Sidecar agent(cli, {}, "1h");
  // The first check has failed once the API was asked.
  REQUIRE(eventually([&] { return user_gets(cli) >= 1; }));
  REQUIRE(eventually([&] {
    return agent.process->output().find("check            failed") != std::string::npos;
  }));
  CHECK(agent.get("/readyz").first == 503);
  CHECK(agent.process->stop(SIGTERM) == 0);
}

TEST_CASE("a deleted service.key is repaired within a second without a download", "[daemon]") {
  Cli cli("repair");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  Sidecar sidecar(cli, {}, "10m");
  // Ready comes a moment before the start-up check is over; once it is, the
  // deletion below is the only thing left to wake a check, with no check in
  // flight to hold back the repair.
  REQUIRE(eventually([&] { return next_check_recorded(cli); }));
  const auto key = read(cli.out / "service.key");
  cli.tb.control_delete("/_testbed/requests");
  fs::remove(cli.out / "service.key");
  CHECK(eventually([&] { return fs::exists(cli.out / "service.key"); }, 1s));
  CHECK(read(cli.out / "service.key") == key);
  for (const auto& r : cli.tb.control_get("/_testbed/requests")) {
    CHECK(r.value("path", "").find("/user/" + cli.user) == std::string::npos);
  }
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("activity in the output directory does not hold back the API poll", "[daemon]") {
  Cli cli("busy-dir");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  Sidecar sidecar(cli, {}, "2s");
  REQUIRE(eventually([&] { return sidecar.get("/readyz").first == 200; }));
  // Something else writes beside the set (here every 200 ms, well inside the
  // poll interval), as init --install-preload or an app's own files do: each
  // write wakes a repair check of the disk.
  std::atomic<bool> stop{false};
  std::jthread toucher([&] {
    const auto file = cli.out / ".app-note";
    while (!stop) {
      std::ofstream(file) << "x";
      std::this_thread::sleep_for(100ms);
      fs::remove(file);
      std::this_thread::sleep_for(100ms);
    }
  });
  cli.tb.renew(cli.user, "busy");
  const bool acknowledged = eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 30s);
  stop = true;
  toucher.join();
  CHECK(acknowledged);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("a target failing with API 500s does not hold back another target", "[daemon]") {
  Cli good("two-good");
  Cli bad("two-bad");
  REQUIRE(good.run({"init"}).exit_code == 0);
  REQUIRE(bad.run({"init"}).exit_code == 0);
  const auto config = good.out.parent_path() / (good.out.filename().string() + ".json");
  nlohmann::json targets = nlohmann::json::array();
  for (Cli* c : {&bad, &good}) {
    targets.push_back({{"name", c->user},
                       {"project", c->tb.project},
                       {"service", c->tb.service},
                       {"user", c->user},
                       {"output_dir", c->out.string()}});
  }
  std::ofstream(config) << nlohmann::json{
      {"api",
       {{"url", good.tb.api_url}, {"ca_file", good.tb.api_ca}, {"token_file", good.tb.token_file}}},
      {"targets", targets}}.dump();
  good.tb.add_fault({{"method", "GET"},
                     {"path_regex", ".*/user/" + bad.user + "$"},
                     {"count", 100000},
                     {"fault", {{"kind", "status"}, {"status", 500}}}});
  bad.tb.renew(bad.user, "gen2");
  auto renewed = good.tb.renew(good.user, "gen2");
  Sidecar sidecar(good, {"--config", config.string()});
  CHECK(eventually([&] { return good.tb.ack_count(good.user) == 1; }));
  // Checked side by side, the good one may be done before the bad one's retries are.
  const std::string bad_errors =
      "certswap_api_errors_total{target=\"" + bad.user + "\",status=\"500\"}";
  CHECK(eventually([&] { return sidecar.get("/metrics").second.contains(bad_errors); }));
  // Each failed check's own summary line is no second API error (it names no status).
  CHECK_FALSE(sidecar.get("/metrics")
                  .second.contains("certswap_api_errors_total{target=\"" + bad.user +
                                   "\",status=\"transport\"}"));
  good.tb.clear_faults();
  CHECK(bad.tb.ack_count(bad.user) == 0);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("SIGTERM once the swap is done finishes the rotation, acknowledged, then exits 0",
          "[daemon]") {
  Cli cli("sigterm");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  // The first check parks right after the swap (failpoint.hpp): the apps may
  // read the new set, so the notification and acknowledgement are owed now.
  // (Before the swap, SIGTERM abandons the check: the tests below.)
  const auto parked = cli.out.parent_path() / (cli.out.filename().string() + ".parked");
  Sidecar sidecar(cli, {}, "1s",
                  {{"CERTSWAP_FAILPOINT_PAUSE", "after-swap"},
                   {"CERTSWAP_FAILPOINT_PAUSE_FILE", parked.string()}});
  REQUIRE(eventually([&] { return fs::exists(parked); }));
  REQUIRE(::kill(sidecar.process->pid(), SIGTERM) == 0);
  CHECK(cli.tb.ack_count(cli.user) == 0);  // the signal came before the ack
  fs::remove(parked);
  CHECK(sidecar.process->stop(0, 30s) == 0);  // signal 0: only wait for the exit
  const auto output = sidecar.process->output();
  CHECK_THAT(output, Catch::Contains("finishing the work in flight"));
  CHECK(read(cli.out / "service.cert") == renewed["user"]["access_cert"].get<std::string>());
  CHECK(cli.tb.ack_count(cli.user) == 1);
  auto again = cli.run({"rotate"});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("live set is current"));
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE(
    "a replaced output directory is watched again: the sidecar refills it and repairs a link "
    "deleted in it",
    "[daemon]") {
  Cli cli("replaced-dir");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto key = read(cli.out / "service.key");
  Sidecar sidecar(cli, {}, "10m");
  REQUIRE(eventually([&] { return sidecar.get("/readyz").first == 200; }));
  // Replaced the way a volume is remounted or a directory restored: the old
  // inode moves away, a new empty directory takes its path.
  fs::rename(cli.out, cli.out.parent_path() / (cli.out.filename().string() + ".old"));
  fs::create_directories(cli.out);
  // The next poll is 10 minutes away: only watching the new directory can see these.
  REQUIRE(eventually([&] { return read(cli.out / "service.key") == key; }, 15s));
  REQUIRE(eventually([&] { return sidecar.get("/readyz").first == 200; }, 20s));
  cli.tb.control_delete("/_testbed/requests");
  fs::remove(cli.out / "service.key");
  CHECK(eventually([&] { return read(cli.out / "service.key") == key; }, 20s));
  CHECK(user_gets(cli) == 0);  // put back from the live generation, no download
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE(
    "a stuck check fails /healthz with its reason and stops the watchdog pings once past its "
    "bound, and both recover when it moves on",
    "[daemon][systemd]") {
  Cli cli("stall");
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  const auto parked = cli.out.parent_path() / (cli.out.filename().string() + ".parked");
  cli.tb.renew(cli.user, "stalled");
  fs::create_directories(inbox);
  auto user = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service +
                                    "/user/" + cli.user + "?include_secrets=true")["body"]["user"];
  auto ca = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/kms/ca")["body"]["certificate"];
  std::ofstream(inbox / "service.cert") << user["access_cert"].get<std::string>();
  std::ofstream(inbox / "service.key") << user["access_key"].get<std::string>();
  std::ofstream(inbox / "ca.pem") << ca.get<std::string>();
  NotifySocket systemd(fs::temp_directory_path() / (cli.user + ".notify"));
  // An inbox target with no Aiven user waits on nobody upstream: its bound is
  // 2 x 1 s (lock) + 1 s (broker) + 30 s (local work) = 33 s (daemon.hpp).
  Sidecar sidecar(cli,
                  {"--source", "inbox", "--inbox-dir", inbox.string(), "--bootstrap",
                   cli.tb.bootstrap, "--lock-timeout", "1s", "--live-timeout", "1s"},
                  "10m",
                  {{"CERTSWAP_USER", ""},
                   {"CERTSWAP_TOKEN_FILE", ""},
                   {"CERTSWAP_API_URL", "https://127.0.0.1:1"},
                   {"CERTSWAP_FAILPOINT_PAUSE", "after-stage"},
                   {"CERTSWAP_FAILPOINT_PAUSE_FILE", parked.string()},
                   {"NOTIFY_SOCKET", systemd.path.string()},
                   {"WATCHDOG_USEC", "1000000"}});
  REQUIRE(eventually([&] { return fs::exists(parked); }));
  const auto within = systemd.receive_for(1500ms);
  CHECK(std::count_if(within.begin(), within.end(),
                      [](const auto& m) { return m.text == "WATCHDOG=1"; }) >= 2);
  CHECK(sidecar.get("/healthz").first == 200);  // a long check is not a stuck one

  REQUIRE(eventually([&] { return sidecar.get("/healthz").first == 503; }, 60s));
  const auto [status, body] = sidecar.get("/healthz");
  CHECK(status == 503);
  CHECK_THAT(body, Catch::Contains("stalled: the check of") &&
                       Catch::Contains("longer than its bound of 33 s"));
  systemd.receive_for(700ms);  // what was sent before the bound ran out
  const auto stalled = systemd.receive_for(1500ms);
  CHECK(std::none_of(stalled.begin(), stalled.end(),
                     [](const auto& m) { return m.text == "WATCHDOG=1"; }));

  fs::remove(parked);
  CHECK(eventually([&] { return sidecar.get("/healthz").first == 200; }, 20s));
  CHECK(eventually(
      [&] { return read(cli.out / "service.cert") == user["access_cert"].get<std::string>(); }));
  const auto after = systemd.receive_for(1500ms);
  CHECK(std::count_if(after.begin(), after.end(),
                      [](const auto& m) { return m.text == "WATCHDOG=1"; }) >= 2);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
  CHECK_THAT(sidecar.process->output(), Catch::Contains("no WATCHDOG=1 until it moves on"));
}

TEST_CASE(
    "the signal notifier signals the process in the pidfile and a dead process holds back the ack",
    "[daemon][notifier]") {
  Cli cli("signal");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto base = cli.out.parent_path() / cli.out.filename();
  const auto got = base.string() + ".got-hup";
  const auto pidfile = base.string() + ".pid";
  std::ofstream(pidfile) << "999999\n";  // a process that does not exist
  Sidecar sidecar(cli, {"--notify-signal", "SIGHUP", "--notify-pid-file", pidfile});
  cli.tb.renew(cli.user, "gen2");
  REQUIRE(eventually([&] {
    return sidecar.get("/metrics")
               .second.find(
                   "certswap_notification_failures_total{target=\"test-project/kafka-test/" +
                   cli.user + "\"} 0") == std::string::npos;
  }));
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK_THAT(sidecar.process->output(), Catch::Contains("the process is gone"));

  // The app comes up and writes its pidfile; the next retry reaches it.
  const auto app = write_script(
      cli.out.parent_path(), cli.out.filename().string() + ".app",
      "trap 'echo hup >> " + got + "' HUP\necho $$ > " + pidfile + "\nwhile :; do sleep 0.1; done");
  testbed::BackgroundProcess app_process({app.string()}, {}, base.string() + ".app.log");
  CHECK(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 60s));
  // The shell runs its trap once the current `sleep 0.1` returns.
  CHECK(eventually([&] { return read(got).find("hup") != std::string::npos; }, 2s));
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("the exec notifier fails on a non-zero exit and a timeout", "[daemon][notifier]") {
  Cli cli("exec-fail");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  auto failing = cli.run({"rotate", "--notify-exec", "/bin/false"});
  CHECK(failing.exit_code == 6);
  CHECK_THAT(failing.output, Catch::Contains("exited with status 1"));
  CHECK(cli.tb.ack_count(cli.user) == 0);
  const auto slow =
      write_script(cli.out.parent_path(), cli.out.filename().string() + ".slow", "sleep 30");
  const auto config = cli.write_config(
      {{"notify", {{{"type", "exec"}, {"command", {slow.string()}}, {"timeout", "1s"}}}}});
  auto timed_out = cli.run({"rotate", "--config", config.string()});
  CHECK(timed_out.exit_code == 6);
  CHECK_THAT(timed_out.output, Catch::Contains("did not finish within 1000 ms"));
  CHECK(cli.tb.ack_count(cli.user) == 0);
  auto fixed = cli.run({"rotate", "--notify-exec", "/bin/true"});
  CHECK(fixed.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("the sidecar's exec hooks start with no blocked signals and without the API token",
          "[daemon][notifier]") {
  Cli cli("exec-clean");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto status = cli.out.parent_path() / (cli.out.filename().string() + ".hook-status");
  const std::string env_token = "env-token-" + cli.user;
  // cp reads its own status; env prints the environment it was given to the log.
  const auto config = cli.write_config(
      {{"notify",
        {{{"type", "exec"}, {"command", {"/bin/cp", "/proc/self/status", status.string()}}},
         {{"type", "exec"}, {"command", {"/usr/bin/env"}}, {"env_pass", {"UNIT_PASSED_ON"}}}}}});
  Sidecar sidecar(cli, {"--config", config.string()}, "1s",
                  {{"AIVEN_AUTH_TOKEN", env_token}, {"UNIT_PASSED_ON", "passed-on"}});
  cli.tb.renew(cli.user, "gen2");
  REQUIRE(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }));
  CHECK(sidecar.process->stop(SIGTERM) == 0);

  const auto text = read(status);
  auto mask = [&](const std::string& field) {
    const auto at = text.find("\n" + field + ":");
    REQUIRE(at != std::string::npos);
    return std::stoull(text.substr(at + field.size() + 2), nullptr, 16);
  };
  // The sidecar blocks SIGHUP, SIGINT and SIGTERM for its signalfd; the hook must not.
  CHECK(mask("SigBlk") == 0);
  // glibc keeps its own signals 32 and 33 (bits 31 and 32) ignored in every process.
  CHECK((mask("SigIgn") & ~((1ULL << 31) | (1ULL << 32))) == 0);
  const auto output = sidecar.process->output();
  CHECK_THAT(output, Catch::Contains("UNIT_PASSED_ON=passed-on"));
  CHECK_THAT(output, Catch::Contains("CERTSWAP_FINGERPRINT="));
  CHECK_THAT(output, !Catch::Contains(env_token));
}

namespace {

// An exec hook that writes the numbers of its open fds to `listing`, one a line.
// ls opens /proc/self/fd to read it, so one fd beyond 0, 1 and 2 is its own.
nlohmann::json fd_listing_hook(const fs::path& listing) {
  return {{"notify",
           {{{"type", "exec"},
             {"command", {"/bin/sh", "-c", "exec ls /proc/self/fd > " + listing.string()}}}}}};
}

// What a hook should see: stdin, stdout and stderr, and the directory ls reads
// (the lowest free number, 3, when nothing else leaked in).
void check_only_standard_fds(const fs::path& listing) {
  const auto text = read(listing);
  INFO("the hook's fds:\n" << text);
  CHECK(text == "0\n1\n2\n3\n");
}

}  // namespace

TEST_CASE("a one-shot rotate's exec hook inherits no fd beyond stdin, stdout and stderr",
          "[daemon][notifier]") {
  Cli cli("exec-fds");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto listing = cli.out.parent_path() / (cli.out.filename().string() + ".fds");
  const auto config = cli.write_config(fd_listing_hook(listing));
  cli.tb.renew(cli.user, "gen2");
  // The API connection is still open (kept alive) while the hooks run.
  REQUIRE(cli.run({"rotate", "--config", config.string()}).exit_code == 0);
  REQUIRE(cli.tb.ack_count(cli.user) == 1);
  check_only_standard_fds(listing);
}

TEST_CASE("the sidecar's exec hook inherits no fd of its loop, endpoint or API connection",
          "[daemon][notifier]") {
  Cli cli("exec-fds-run");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto listing = cli.out.parent_path() / (cli.out.filename().string() + ".fds");
  const auto config = cli.write_config(fd_listing_hook(listing));
  Sidecar sidecar(cli, {"--config", config.string()});
  cli.tb.renew(cli.user, "gen2");
  REQUIRE(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }));
  CHECK(sidecar.process->stop(SIGTERM) == 0);
  check_only_standard_fds(listing);
}

TEST_CASE("SIGTERM while the API says 429 with Retry-After 120 exits 0 at once, nothing half done",
          "[daemon]") {
  Cli cli("term-429");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.renew(cli.user, "gen2");
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user},
                    {"count", 1000},
                    {"fault", {{"kind", "rate_limit"}, {"retry_after", 120}}}});
  Sidecar sidecar(cli);
  // The check is waiting out the Retry-After (capped at the 30 s back-off).
  REQUIRE(eventually(
      [&] { return sidecar.process->output().find("retrying in") != std::string::npos; }));
  const auto asked = std::chrono::steady_clock::now();
  // A bound far below the wait it cuts short, not a measure of speed.
  CHECK(sidecar.process->stop(SIGTERM, 10s) == 0);
  CHECK(std::chrono::steady_clock::now() - asked < 10s);
  cli.tb.clear_faults();
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK_THAT(sidecar.process->output(), Catch::Contains("not retried: certswap is stopping"));
  // The next run takes the renewal as if nothing had happened.
  auto r = cli.run({"rotate"});
  CHECK(r.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("SIGTERM while an API answer is slow abandons the GET and exits 0 within 2 s",
          "[daemon]") {
  Cli cli("term-slow-api");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.renew(cli.user, "gen2");
  // The first GET of the user is answered after 25 s (the transfer timeout is 30 s).
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user},
                    {"count", 1},
                    {"fault", {{"kind", "delay"}, {"ms", 25000}}}});
  Sidecar sidecar(cli);
  // The emulator took the fault: the sidecar's GET is waiting on its answer.
  REQUIRE(eventually([&] { return cli.tb.control_get("/_testbed/faults")["pending"] == 0; }));
  const auto asked = std::chrono::steady_clock::now();
  // The bound only stops a broken build from waiting out the delay.
  CHECK(sidecar.process->stop(SIGTERM, 20s) == 0);
  CHECK(std::chrono::steady_clock::now() - asked < 2s);
  CHECK_THAT(sidecar.process->output(), Catch::Contains("abandoned: certswap is stopping"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("SIGTERM during a broker check that hangs exits 0 within 2 s, nothing swapped",
          "[daemon]") {
  Cli cli("term-slow-broker");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.renew(cli.user, "gen2");
  // A broker that accepts the connection and never answers the handshake,
  // with a check allowed to wait a minute for it. The emergency window covers
  // the live set, so a check cut short must not pass for an unreachable broker
  // (that would swap on offline checks alone).
  TcpGate gate(cli.tb.bootstrap);
  Sidecar sidecar(cli, {"--emergency-window", "3650d"}, "1s",
                  {{"CERTSWAP_BOOTSTRAP", gate.address()}, {"CERTSWAP_LIVE_TIMEOUT", "60s"}});
  REQUIRE(eventually([&] { return gate.connections() > 0; }));
  const auto asked = std::chrono::steady_clock::now();
  CHECK(sidecar.process->stop(SIGTERM, 20s) == 0);
  CHECK(std::chrono::steady_clock::now() - asked < 2s);
  CHECK_THAT(sidecar.process->output(), Catch::Contains("abandoned: certswap is stopping"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  // The next start takes the renewal as if nothing had happened.
  auto r = cli.run({"rotate"});
  CHECK(r.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("the http notifier POSTs the event and a 500 holds back the acknowledgement",
          "[daemon][notifier]") {
  Cli cli("http-notify");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  httplib::Server server;
  std::mutex mutex;
  std::vector<nlohmann::json> received;
  std::atomic<int> status{500};
  server.Post("/reload", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    received.push_back(nlohmann::json::parse(req.body));
    res.status = status.load();
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread thread([&] { server.listen_after_bind(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/reload";
  auto renewed = cli.tb.renew(cli.user, "gen2");

  auto refused = cli.run({"rotate", "--notify-url", url});
  CHECK(refused.exit_code == 6);
  CHECK_THAT(refused.output, Catch::Contains("HTTP 500"));
  CHECK(cli.tb.ack_count(cli.user) == 0);

  status = 204;
  auto accepted = cli.run({"rotate", "--notify-url", url});
  CHECK(accepted.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
  server.stop();
  thread.join();
  std::lock_guard lock(mutex);
  REQUIRE_FALSE(received.empty());
  CHECK(received.back()["fingerprint"] == renewed["fingerprint"]);
  CHECK(received.back()["event"] == "certificate-swapped");
}

TEST_CASE("POST /rotate is off by default and, when enabled, checks at once", "[daemon]") {
  Cli cli("post-rotate");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  {
    Sidecar off(cli, {}, "10m");
    httplib::Client c("127.0.0.1", off.port);
    auto r = c.Post("/rotate");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(off.process->stop(SIGTERM) == 0);
  }
  Sidecar on(cli, {"--enable-rotate-endpoint"}, "10m");
  // Ready only once the start-up check is over, so that it cannot be the one
  // that takes the renewal below; the next poll is 10 minutes away.
  REQUIRE(eventually([&] { return on.get("/readyz").first == 200; }));
  auto renewed = cli.tb.renew(cli.user, "on-demand");
  httplib::Client c("127.0.0.1", on.port);
  auto r = c.Post("/rotate");
  REQUIRE(r);
  CHECK(r->status == 202);
  CHECK(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 10s));
  CHECK(on.process->stop(SIGTERM) == 0);
}

TEST_CASE("the API token appears in no argv, metrics page or log of the sidecar",
          "[daemon][security]") {
  Cli cli("token-hiding");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.remember_key(read(cli.out / "service.key"));
  cli.tb.renew(cli.user, "gen2");
  Sidecar sidecar(cli);
  REQUIRE(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }));
  cli.remember_key(read(cli.out / "service.key"));
  const std::string cmdline = read("/proc/" + std::to_string(sidecar.process->pid()) + "/cmdline");
  CHECK_THAT(cmdline, Catch::Contains("run"));  // the right process
  const std::string metrics = sidecar.get("/metrics").second;
  CHECK_THAT(metrics, Catch::Contains("certswap_rotations_total"));
  CHECK(sidecar.process->stop(SIGTERM) == 0);
  const std::string log = sidecar.process->output();
  for (const auto& secret : cli.secrets) {
    CHECK(cmdline.find(secret) == std::string::npos);
    CHECK(metrics.find(secret) == std::string::npos);
    CHECK(log.find(secret) == std::string::npos);
  }
  CHECK(log.find("PRIVATE KEY") == std::string::npos);
}

TEST_CASE(
    "under permanent 500s, then 429s, the sidecar keeps a bounded request rate and recovers "
    "when they stop",
    "[daemon][faults]") {
  Cli cli("fault-rate");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const std::string user_path = "/user/" + cli.user;
  auto permanent = [&](nlohmann::json fault) {
    cli.tb.clear_faults();
    cli.tb.add_fault({{"method", "GET"},
                      {"path_regex", ".*" + user_path + "$"},
                      {"count", 100000},
                      {"fault", std::move(fault)}});
  };
  // Each fault gets a fresh sidecar, so that the backoff the first one built
  // up cannot hide the second one's.
  permanent({{"kind", "status"}, {"status", 500}});
  {
    const auto before = user_gets(cli);
    Sidecar sidecar(cli);
    check_backoff(wait_for_third_check(cli, sidecar, before), "under permanent 500s");
    CHECK(sidecar.get("/healthz").first == 200);
    CHECK(sidecar.process->stop(SIGTERM) == 0);
  }
  permanent({{"kind", "rate_limit"}, {"retry_after", 1}});
  const auto before = user_gets(cli);
  Sidecar sidecar(cli);
  check_backoff(wait_for_third_check(cli, sidecar, before), "under permanent 429s");
  CHECK(sidecar.get("/healthz").first == 200);

  cli.tb.clear_faults();
  auto renewed = cli.tb.renew(cli.user, "gen2");
  CHECK(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 90s));
  CHECK(sidecar.get("/readyz").first == 200);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE(
    "a hung broker holds back the swap and the acknowledgement at a bounded rate, and the "
    "renewal goes live when the broker answers again",
    "[daemon][faults]") {
  Cli cli("broker-fault");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  TcpGate gate(cli.tb.bootstrap);  // shut: the broker accepts and never answers
  auto renewed = cli.tb.renew(cli.user, "gen2");
  const auto live_before = snapshot_live(cli.out);
  const auto before = user_gets(cli);
  Sidecar sidecar(cli, {"--bootstrap", gate.address(), "--live-timeout", "2s"});
  int connections_before_log = 0;
  const auto seen = wait_for_third_check(cli, sidecar, before,
                                         [&] { connections_before_log = gate.connections(); });
  check_backoff(seen, "with a hung broker");
  // Every check that ended tried the broker, each at most three times.
  const auto ended = static_cast<int>(seen.gets_per_check.size());
  std::cout << "with a hung broker: " << gate.connections() << " broker connections\n";
  CHECK(gate.connections() >= ended);
  CHECK(connections_before_log <= 3 * (ended + 1));
  CHECK(snapshot_live(cli.out) == live_before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(sidecar.get("/readyz").first == 200);  // the old set is still valid and serving
  CHECK_THAT(sidecar.process->output(),
             Catch::Contains(gate.address()) && Catch::Contains("could not be reached"));

  gate.set_open(true);
  CHECK(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 60s));
  const auto live_cert = read(cli.out / "service.cert");
  CHECK(live_cert == renewed["user"]["access_cert"].get<std::string>());
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE(
    "the sidecar looks the brokers up again after an inconclusive check: a listener that moved "
    "holds a renewal back only until the service names the new one",
    "[daemon][faults]") {
  Cli cli("moved");
  // A service of its own: the test moves its listener.
  const std::string service = unique_name("kafka-moved");
  const auto& bootstrap = cli.tb.bootstrap;
  const int broker = std::stoi(bootstrap.substr(bootstrap.rfind(':') + 1));
  const auto point_at = [&](int port) {
    cli.tb.control_post(
        "/_testbed/service",
        {{"project", cli.tb.project}, {"service", service}, {"host", "127.0.0.1"}, {"port", port}});
  };
  point_at(broker);
  cli.tb.control_post("/_testbed/users",
                      {{"project", cli.tb.project}, {"service", service}, {"username", cli.user}});
  const std::map<std::string, std::string> env{{"CERTSWAP_SERVICE", service}};
  REQUIRE(cli.run({"init"}, env).exit_code == 0);
  const auto renewed = cli.tb.control_post(
      "/_testbed/renew",
      {{"project", cli.tb.project}, {"service", service}, {"username", cli.user}});
  const auto acks = [&] {
    return cli.tb
        .control_get("/_testbed/acks?project=" + cli.tb.project + "&service=" + service +
                     "&username=" + cli.user)["count"]
        .get<int>();
  };

  // The listener the sidecar finds first is gone: nothing listens there.
  const int closed = free_port();
  point_at(closed);
  cli.tb.control_delete("/_testbed/requests");
  Sidecar sidecar(cli, {"--live-timeout", "2s"}, "1s", env);
  REQUIRE(eventually(
      [&] {
        return sidecar.process->output().find("127.0.0.1:" + std::to_string(closed) +
                                              " could not be reached") != std::string::npos;
      },
      30s));
  CHECK(acks() == 0);

  // The service names its new listener; the sidecar is not restarted.
  point_at(broker);
  CHECK(eventually([&] { return acks() == 1; }, 60s));
  CHECK(read(cli.out / "service.cert") == renewed["user"]["access_cert"].get<std::string>());
  int lookups = 0;  // of the service: once before the failed check, again after it
  for (const auto& r : cli.tb.control_get("/_testbed/requests")) {
    if (r.value("method", "") == "GET" &&
        r.value("path", "") == "/v1/project/" + cli.tb.project + "/service/" + service)
      ++lookups;
  }
  CHECK(lookups >= 2);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE(
    "under systemd (Type=notify, WatchdogSec=) the sidecar says READY=1 after its first check, "
    "pings the watchdog and says STOPPING=1 on SIGTERM",
    "[daemon][systemd]") {
  Cli cli("sd-notify");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  NotifySocket systemd(fs::temp_directory_path() / (cli.user + ".notify"));
  // The first check is slow, so READY=1 must wait for it.
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user + "$"},
                    {"count", 1},
                    {"fault", {{"kind", "delay"}, {"ms", 2000}}}});
  const auto started = std::chrono::steady_clock::now();
  Sidecar sidecar(cli, {}, "1s",
                  {{"NOTIFY_SOCKET", systemd.path.string()}, {"WATCHDOG_USEC", "1000000"}});
  auto messages = systemd.receive_for(4s);
  REQUIRE(!messages.empty());
  const auto ready = std::find_if(messages.begin(), messages.end(),
                                  [](const auto& m) { return m.text == "READY=1"; });
  REQUIRE(ready != messages.end());
  CHECK(ready->at - started >= 1900ms);
  CHECK(std::count_if(messages.begin(), messages.end(),
                      [](const auto& m) { return m.text == "READY=1"; }) == 1);
  CHECK(std::any_of(messages.begin(), messages.end(),
                    [](const auto& m) { return m.text == "STATUS=all targets ready"; }));
  // WatchdogSec=1s: a ping at least every half of it.
  const auto later = systemd.receive_for(2500ms);
  const auto pings = std::count_if(later.begin(), later.end(),
                                   [](const auto& m) { return m.text == "WATCHDOG=1"; });
  std::cout << "sd_notify: READY=1 after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(ready->at - started).count()
            << " ms, then " << pings << " watchdog pings in 2.5 s\n";
  CHECK(pings >= 4);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
  messages = systemd.receive_for(500ms);
  CHECK(std::any_of(messages.begin(), messages.end(),
                    [](const auto& m) { return m.text == "STOPPING=1"; }));
}

namespace {

std::size_t thread_count(int pid) {
  const fs::path tasks = "/proc/" + std::to_string(pid) + "/task";
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(tasks), fs::directory_iterator{}));
}

}  // namespace

// Not "sidecar" in the name: the TSan job picks tests by that word, and TSan's
// runtime adds a thread of its own.
TEST_CASE("an idle agent loop runs two threads, and the endpoint's workers end with their requests",
          "[daemon][footprint]") {
  Cli cli("idle-threads");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  Sidecar agent(cli, {}, "1h");
  REQUIRE(eventually([&] { return agent.get("/readyz").first == 200; }));
  // The loop and httplib's listener; a request's worker leaves once it answered.
  CHECK(eventually([&] { return thread_count(agent.process->pid()) == 2; }, 5s));
  for (int i = 0; i < 3; ++i) CHECK(agent.get("/metrics").first == 200);
  CHECK(eventually([&] { return thread_count(agent.process->pid()) == 2; }, 5s));
  CHECK(agent.process->stop(SIGTERM) == 0);
}

TEST_CASE(
    "the alert gauges: a renewal held back is pending, live but unacknowledged, then done, "
    "a restarted sidecar keeps the last rotation",
    "[daemon][metrics]") {
  Cli cli("alert-gauges");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto metric = [&](const Sidecar& s, const std::string& name) {
    const auto page = s.get("/metrics").second;
    const auto key = name + "{target=\"" + target_name(cli) + "\"} ";
    const auto at = page.find("\n" + key);
    return at == std::string::npos ? -1.0 : std::stod(page.substr(at + 1 + key.size()));
  };
  TcpGate gate(cli.tb.bootstrap);  // shut: the broker accepts and never answers
  cli.tb.renew(cli.user, "gauges");
  {
    Sidecar sidecar(cli, {"--bootstrap", gate.address(), "--live-timeout", "2s"});
    REQUIRE(eventually([&] { return metric(sidecar, "certswap_consecutive_failed_checks") >= 1; },
                       60s));
    CHECK(metric(sidecar, "certswap_renewal_pending") == 1);
    CHECK(metric(sidecar, "certswap_renewal_live_unacknowledged") == 0);
    // The broker answers; Aiven refuses the acknowledgement for a while.
    cli.tb.add_fault({{"method", "PUT"},
                      {"path_regex", ".*/user/" + cli.user},
                      {"count", 1000},
                      {"fault", {{"kind", "status"}, {"status", 500}}}});
    gate.set_open(true);
    CHECK(eventually([&] { return metric(sidecar, "certswap_renewal_live_unacknowledged") == 1; },
                     60s));
    CHECK(metric(sidecar, "certswap_renewal_pending") == 1);
    cli.tb.clear_faults();
    REQUIRE(eventually([&] { return cli.tb.ack_count(cli.user) == 1; }, 90s));
    CHECK(eventually(
        [&] {
          return metric(sidecar, "certswap_renewal_pending") == 0 &&
                 metric(sidecar, "certswap_renewal_live_unacknowledged") == 0 &&
                 metric(sidecar, "certswap_consecutive_failed_checks") == 0;
        },
        30s));
    CHECK(sidecar.process->stop(SIGTERM) == 0);
  }
  const auto journal = nlohmann::json::parse(read(cli.out / ".certswap" / "state.json"));
  const double last_rotation = journal.value("last_rotation", 0.0);
  REQUIRE(last_rotation > 0);
  // Restarted: the gauge comes from the journal, before any rotation of its own.
  Sidecar again(cli, {}, "1h");
  CHECK(metric(again, "certswap_last_rotation_timestamp_seconds") == last_rotation);
  CHECK(metric(again, "certswap_last_success_timestamp_seconds") > 0);
  CHECK(again.process->stop(SIGTERM) == 0);
}
