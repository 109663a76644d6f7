// One log schema (README "Logs"): every record of a rotation, a failed check
// and a usage error, in both formats, on stderr, checked field by field.
#include <regex>
#include <set>
#include <sstream>

#include "cli_harness.hpp"

using namespace certswap_test;

namespace {

const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
const std::set<std::string> kLevels{"error", "warn", "info", "debug"};

// Every line is a record of the schema; returns them.
std::vector<nlohmann::json> json_records(const std::string& output) {
  static const std::set<std::string> kAllowed{"time", "level",  "event",  "target",
                                              "msg",  "step",   "status", "ms",
                                              "us",   "detail", "error",  "exit_code"};
  std::vector<nlohmann::json> records;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    INFO(line);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    for (const auto& [key, value] : j.items()) CHECK(kAllowed.contains(key));
    REQUIRE(j.contains("time"));
    CHECK(std::regex_match(j["time"].get<std::string>(), kTime));
    CHECK(kLevels.contains(j.value("level", "")));
    CHECK(j["event"].is_string());
    CHECK(j["target"].is_string());
    CHECK(j["msg"].is_string());
    if (j.contains("step")) {
      CHECK(j["step"] == j["event"]);
      CHECK(j["status"].is_string());
      CHECK(j["ms"].is_number_integer());
      CHECK(j["us"].is_number_integer());
      CHECK(j["detail"] == j["msg"]);
    } else {
      CHECK(j["event"] == "log");
    }
    CHECK(j.contains("error") == j.contains("exit_code"));
    if (j.contains("error")) CHECK(j["level"] == "error");
    records.push_back(j);
  }
  return records;
}

}  // namespace

TEST_CASE("json logs: a rotation, a failed check and a usage error are records of one schema",
          "[logs]") {
  Cli cli("log-json");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "logs");
  auto rotated = cli.run({"rotate", "--log-format", "json"});
  REQUIRE(rotated.exit_code == 0);
  std::set<std::string> events;
  for (const auto& r : json_records(rotated.output)) events.insert(r["event"].get<std::string>());
  for (auto e : {"fetch", "validate-live", "swap", "acknowledge", "check"})
    CHECK(events.contains(e));

  // The brokers where nothing listens: the check fails, inconclusive.
  cli.tb.renew(cli.user, "logs-2");
  auto failed = cli.run({"rotate", "--log-format", "json", "--bootstrap", "127.0.0.1:1"});
  CHECK(failed.exit_code == 5);
  bool step_failure = false, final_failure = false;
  for (const auto& r : json_records(failed.output)) {
    if (r.contains("step") && r["step"] == "validate-live") {
      step_failure = r.value("error", "") == "inconclusive" && r["exit_code"] == 5 &&
                     r["target"] == cli.tb.project + "/" + cli.tb.service + "/" + cli.user;
    }
    if (!r.contains("step") && r.contains("error")) {
      final_failure = r["error"] == "inconclusive" && r["exit_code"] == 5;
    }
  }
  CHECK(step_failure);
  CHECK(final_failure);

  auto usage = cli.run({"rotate", "--log-format", "json", "--no-such-flag"});
  CHECK(usage.exit_code == 64);
  const auto records = json_records(usage.output);
  REQUIRE(records.size() == 1);
  CHECK(records[0]["error"] == "usage");
  CHECK(records[0]["exit_code"] == 64);
  CHECK_THAT(records[0]["msg"].get<std::string>(), Catch::Contains("--no-such-flag"));
}

TEST_CASE(
    "text logs: the same records, one per line, with time and level first, and under systemd "
    "each line starts with its syslog priority",
    "[logs]") {
  Cli cli("log-text");
  auto r = cli.run({"init"});
  REQUIRE(r.exit_code == 0);
  const std::regex record(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (error|warn |info |debug) .*)");
  std::istringstream lines(r.output);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    INFO(line);
    CHECK(std::regex_match(line, record));
  }
  CHECK(n > 5);
  auto usage = cli.run({"rotate", "--no-such-flag"});
  CHECK(usage.exit_code == 64);
  CHECK_THAT(usage.output, Catch::Contains(" error ") && Catch::Contains("[usage error, exit 64]"));

  // JOURNAL_STREAM names the stream systemd connected (device:inode); here,
  // the pipe the test reads.
  auto journald = testbed::run_process(
      {"/bin/sh", "-c",
       "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" rotate --no-such-flag",
       certswap_bin()},
      cli.env());
  CHECK(journald.exit_code == 64);
  CHECK(journald.output.starts_with("<3>"));
  // With another stream named, no prefixes: the output is not the journal.
  auto elsewhere = testbed::run_process({certswap_bin(), "rotate", "--no-such-flag"},
                                        {{"JOURNAL_STREAM", "1:1"}});
  CHECK_FALSE(elsewhere.output.starts_with("<"));
}

TEST_CASE("the log level warn keeps warnings and errors only", "[logs]") {
  Cli cli("log-level");
  auto r = cli.run({"init", "--log-level", "warn"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find(" info ") == std::string::npos);
  auto bad = cli.run({"init", "--log-level", "chatty"});
  CHECK(bad.exit_code == 64);
}
