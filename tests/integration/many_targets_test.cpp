// `certswap run` with many targets at once (issue 14, "Many targets"): the
// bound on API requests in flight as the emulator counts them, a hung target
// that does not hold back the others, and a 429 that pauses every target of
// the token; and the one-shot `rotate --config` on the same bounds. The names
// say "sidecar" so that the TSan job runs them too.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <regex>

#include "cli_harness.hpp"
#include "eventually.hpp"

using namespace certswap_test;
using namespace std::chrono_literals;

namespace {

using testbed::free_port;

// Several users of the test bed, one target each, in one --config file.
struct Fleet {
  std::vector<std::unique_ptr<Cli>> users;
  fs::path config;

  Fleet(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) users.push_back(std::make_unique<Cli>(prefix + std::to_string(i)));
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& c : users) {
      targets.push_back({{"name", c->user},
                         {"project", c->tb.project},
                         {"service", c->tb.service},
                         {"user", c->user},
                         {"output_dir", c->out.string()},
                         {"live_timeout", "8s"}});
    }
    const Cli& first = *users.front();
    config = first.out.parent_path() / (first.out.filename().string() + ".fleet.json");
    std::ofstream(config) << nlohmann::json{
        {"api",
         {{"url", first.tb.api_url},
          {"ca_file", first.tb.api_ca},
          {"token_file", first.tb.token_file}}},
        {"targets", targets}}.dump();
  }

  const testbed::Testbed& tb() const { return users.front()->tb; }
  bool installed(const Cli& c) const { return fs::is_symlink(c.out / "..data"); }
};

struct FleetSidecar {
  int port = free_port();
  std::unique_ptr<testbed::BackgroundProcess> process;

  FleetSidecar(const Fleet& fleet, std::vector<std::string> extra) {
    std::vector<std::string> argv{certswap_bin(),
                                  "run",
                                  "--config",
                                  fleet.config.string(),
                                  "--poll-interval",
                                  "1s",
                                  "--renewal-poll-interval",
                                  "1s",
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const Cli& first = *fleet.users.front();
    process = std::make_unique<testbed::BackgroundProcess>(
        argv, first.env(),
        (first.out.parent_path() / (first.out.filename().string() + ".sidecar.log")).string());
    REQUIRE(eventually([&] { return get("/healthz").first == 200; }, 10s));
  }

  std::pair<int, std::string> get(const std::string& path) const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    auto r = c.Get(path.c_str());
    return r ? std::pair{r->status, r->body} : std::pair{0, std::string()};
  }

  // A sample without labels from /metrics; -1 when absent.
  double metric(const std::string& name) const {
    const auto text = get("/metrics").second;
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("\n" + name + " ([-0-9.e+]+)\n"))) return -1;
    return std::stod(m[1].str());
  }
};

int user_gets(const testbed::Testbed& tb, const std::vector<const Cli*>& of) {
  int n = 0;
  for (const auto& r : tb.control_get("/_testbed/requests")) {
    const auto path = r.value("path", "");
    for (const Cli* c : of) {
      if (r.value("method", "") == "GET" && path.ends_with("/user/" + c->user)) ++n;
    }
  }
  return n;
}

// Every user GET of the fleet takes 300 ms, long enough that requests overlap
// when they are sent side by side; the emulator's in-flight count starts anew.
void slow_user_gets(const Fleet& fleet, const std::string& prefix) {
  fleet.tb().add_fault({{"method", "GET"},
                        {"path_regex", ".*/user/" + prefix + ".*"},
                        {"count", 100000},
                        {"fault", {{"kind", "delay"}, {"ms", 300}}}});
  // An earlier test's request whose client gave up (a sidecar stopped by
  // SIGTERM abandons its GETs) may still be in the emulator's hands: the
  // peak counts from when it is gone, so that it holds this test's only.
  REQUIRE(eventually(
      [&] { return fleet.tb().control_get("/_testbed/concurrency").at("in_flight") == 0; }, 30s));
  fleet.tb().control_delete("/_testbed/concurrency");
}

}  // namespace

TEST_CASE(
    "the sidecar checks many targets at once, never more API requests in flight than "
    "--concurrency as the emulator counts them",
    "[daemon][scale]") {
  Fleet fleet("many-", 10);
  slow_user_gets(fleet, "many-");
  FleetSidecar sidecar(fleet, {"--concurrency", "3", "--live-concurrency", "2"});
  CHECK(eventually(
      [&] {
        return std::ranges::all_of(fleet.users, [&](const auto& c) { return fleet.installed(*c); });
      },
      90s));
  const auto seen = fleet.tb().control_get("/_testbed/concurrency");
  fleet.tb().clear_faults();
  INFO(seen.dump());
  CHECK(seen.at("peak").get<int>() <= 3);
  CHECK(seen.at("peak").get<int>() >= 2);  // side by side, not one after another
  CHECK(sidecar.metric("certswap_api_max_in_flight") == 3);
  CHECK(sidecar.metric("certswap_api_peak_in_flight") <= 3);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("a hung target does not hold back the sidecar's other targets", "[daemon][scale]") {
  Fleet fleet("hung-", 5);
  const Cli& hung = *fleet.users.front();  // first in the file: checked first
  for (const auto& c : fleet.users) REQUIRE(c->run({"init"}).exit_code == 0);
  for (std::size_t i = 1; i < fleet.users.size(); ++i) fleet.tb().renew(fleet.users[i]->user, "g2");
  // The hung target's first GET answers after 25 s (within its 30 s API timeout).
  fleet.tb().add_fault({{"method", "GET"},
                        {"path_regex", ".*/user/" + hung.user + "$"},
                        {"count", 1},
                        {"fault", {{"kind", "delay"}, {"ms", 25000}}}});
  FleetSidecar sidecar(fleet, {});
  const bool others_done = eventually(
      [&] {
        for (std::size_t i = 1; i < fleet.users.size(); ++i)
          if (fleet.tb().ack_count(fleet.users[i]->user) != 1) return false;
        return true;
      },
      20s);
  CHECK(others_done);
  // ... while the hung one's request was still at the emulator.
  CHECK(fleet.tb().control_get("/_testbed/concurrency").at("in_flight").get<int>() >= 1);
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("a 429 with Retry-After to one target pauses the sidecar's other targets of the token",
          "[daemon][scale]") {
  Fleet fleet("polite-", 3);
  for (const auto& c : fleet.users) REQUIRE(c->run({"init"}).exit_code == 0);
  FleetSidecar sidecar(fleet, {});
  const std::vector<const Cli*> others{fleet.users[1].get(), fleet.users[2].get()};
  // Polling once a second each: the others are asking.
  const int before = user_gets(fleet.tb(), others);
  REQUIRE(eventually([&] { return user_gets(fleet.tb(), others) >= before + 2; }, 10s));
  const std::vector<const Cli*> limited{fleet.users[0].get()};
  fleet.tb().add_fault({{"method", "GET"},
                        {"path_regex", ".*/user/" + fleet.users[0]->user + "$"},
                        {"count", 1},
                        {"fault", {{"kind", "rate_limit"}, {"retry_after", 6}}}});
  REQUIRE(eventually([&] { return sidecar.metric("certswap_api_pauses_total") >= 1; }, 10s));
  const int at_pause = user_gets(fleet.tb(), others);
  const int limited_at_pause = user_gets(fleet.tb(), limited);  // the 429 among them
  // The target that got the 429 asks again after its 6 s: until then, the
  // others send nothing new but what was on the wire when the 429 came and
  // what races its retry at the end (one each, each time). Unpaused, they
  // would ask about six times each in that window.
  REQUIRE(eventually([&] { return user_gets(fleet.tb(), limited) > limited_at_pause; }, 15s));
  const int during = user_gets(fleet.tb(), others);
  CHECK(during - at_pause <= 2 * static_cast<int>(others.size()));
  CHECK(sidecar.metric("certswap_api_budget_waits_total") >= 1);
  // And they go on afterwards.
  CHECK(eventually([&] { return user_gets(fleet.tb(), others) > during + 1; }, 10s));
  CHECK(sidecar.process->stop(SIGTERM) == 0);
}

TEST_CASE("rotate --config installs many targets at once within --concurrency as the sidecar does",
          "[scale]") {
  Fleet fleet("oneshot-", 8);
  slow_user_gets(fleet, "oneshot-");
  auto r = fleet.users.front()->run({"rotate", "--config", fleet.config.string(), "--concurrency",
                                     "3", "--live-concurrency", "2"});
  const auto seen = fleet.tb().control_get("/_testbed/concurrency");
  fleet.tb().clear_faults();
  INFO(r.output);
  CHECK(r.exit_code == 0);
  for (const auto& c : fleet.users) CHECK(fleet.installed(*c));
  INFO(seen.dump());
  CHECK(seen.at("peak").get<int>() <= 3);
  CHECK(seen.at("peak").get<int>() >= 2);  // side by side, not one after another
}
