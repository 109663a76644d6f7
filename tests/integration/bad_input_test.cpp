// Bad input never loses data: every malformed, mismatched, expired or
// wrong-CA credential and every API or broker fault gets a clear error that
// names what and where, the live files stay byte-identical, nothing is
// acknowledged.
#include "cli_harness.hpp"
#include "tcp_gate.hpp"

using namespace certswap_test;
using nlohmann::json;

namespace {

struct FaultCase {
  const char* name;
  const char* method;
  const char* path;  // "user", "ca", "service"
  json fault;
  int count;
  int exit_code;
  std::vector<std::string> expected;  // all must appear in the output
  std::vector<std::string> extra_args = {};
};

std::string path_regex(const Cli& cli, const std::string& which) {
  if (which == "user") return ".*/user/" + cli.user + "$";
  if (which == "ca") return ".*/kms/ca$";
  return ".*/service/" + cli.tb.service + "$";
}

const std::vector<FaultCase>& cases() {
  static const std::vector<FaultCase> all = {
      {"malformed PEM in the certificate",
       "GET",
       "user",
       {{"kind", "malformed_pem_cert"}},
       1,
       3,
       {"service.cert", "/user/"}},
      {"malformed PEM in the key",
       "GET",
       "user",
       {{"kind", "malformed_pem_key"}},
       1,
       3,
       {"service.key", "/user/"}},
      {"malformed PEM in the CA",
       "GET",
       "ca",
       {{"kind", "malformed_pem_ca"}},
       1,
       3,
       {"ca.pem", "/kms/ca"}},
      {"a key that does not match the certificate",
       "GET",
       "user",
       {{"kind", "mismatched_key"}},
       1,
       3,
       {"service.key", "does not match"}},
      {"a certificate from a foreign CA",
       "GET",
       "user",
       {{"kind", "foreign_ca_cert"}},
       1,
       3,
       {"service.cert", "project CA"}},
      {"an expired certificate",
       "GET",
       "user",
       {{"kind", "expired_cert"}},
       1,
       3,
       {"service.cert", "expired"}},
      {"a certificate not yet valid",
       "GET",
       "user",
       {{"kind", "not_yet_valid_cert"}},
       1,
       3,
       {"service.cert", "not valid until"}},
      {"a truncated JSON body",
       "GET",
       "user",
       {{"kind", "truncated_body"}},
       10,
       4,
       {"GET https://", "/user/", "transfer closed"}},
      {"malformed JSON",
       "GET",
       "user",
       {{"kind", "malformed_json"}},
       1,
       4,
       {"not a JSON object", "/user/"}},
      {"a missing access_key field",
       "GET",
       "user",
       {{"kind", "missing_field"}, {"field", "access_key"}},
       1,
       4,
       {"access_key", "/user/"}},
      {"HTTP 401",
       "GET",
       "user",
       {{"kind", "status"}, {"status", 401}, {"message", "Invalid token"}},
       1,
       4,
       {"401", "Invalid token"}},
      {"HTTP 403",
       "GET",
       "user",
       {{"kind", "status"}, {"status", 403}, {"message", "Forbidden for this project"}},
       1,
       4,
       {"403", "Forbidden for this project"}},
      {"HTTP 404",
       "GET",
       "user",
       {{"kind", "status"}, {"status", 404}, {"message", "Service user does not exist"}},
       1,
       4,
       {"404", "does not exist"}},
      {"HTTP 429 with Retry-After, every attempt",
       "GET",
       "user",
       {{"kind", "rate_limit"}, {"retry_after", 1}},
       10,
       4,
       {"429"}},
      {"HTTP 500, every attempt",
       "GET",
       "user",
       {{"kind", "status"}, {"status", 500}, {"message", "Internal error"}},
       10,
       4,
       {"500", "Internal error"}},
      {"an API timeout",
       "GET",
       "user",
       {{"kind", "delay"}, {"ms", 3000}},
       10,
       4,
       {"/user/"},
       {"--api-timeout", "1s"}},
      {"a dropped connection", "GET", "user", {{"kind", "drop"}}, 10, 4, {"GET "}},
  };
  return all;
}

}  // namespace

TEST_CASE("bad input from the API leaves the live files untouched and acknowledges nothing",
          "[bad-input]") {
  for (const auto& c : cases()) {
    DYNAMIC_SECTION(c.name) {
      Cli cli("bad");
      REQUIRE(cli.run({"init"}).exit_code == 0);
      cli.tb.renew(cli.user, "gen2");
      const auto before = snapshot_live(cli.out);
      cli.tb.add_fault({{"method", c.method},
                        {"path_regex", path_regex(cli, c.path)},
                        {"count", c.count},
                        {"fault", c.fault}});
      std::vector<std::string> args{"rotate"};
      args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
      auto r = cli.run(args);
      cli.tb.clear_faults();
      CHECK(r.exit_code == c.exit_code);
      for (const auto& text : c.expected) CHECK_THAT(r.output, Catch::Contains(text));
      CHECK(snapshot_live(cli.out) == before);
      CHECK(cli.tb.ack_count(cli.user) == 0);
      // A set that failed validation does not stay behind with its key.
      CHECK_FALSE(fs::exists(cli.out / ".certswap" / "staging" / "service.key"));
    }
  }
}

TEST_CASE("a single 429 is retried after Retry-After and the rotation completes", "[bad-input]") {
  Cli cli("retry-after");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  auto renewed = cli.tb.renew(cli.user, "gen2");
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user + "$"},
                    {"count", 1},
                    {"fault", {{"kind", "rate_limit"}, {"retry_after", 1}}}});
  auto r = cli.run({"rotate"});
  cli.tb.clear_faults();
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("retrying in 1000 ms"));
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("an unreachable broker is inconclusive: nothing is swapped", "[bad-input]") {
  Cli cli("no-broker");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);
  auto r = cli.run({"rotate", "--bootstrap", "127.0.0.1:1", "--live-timeout", "3s"});
  CHECK(r.exit_code == 5);
  CHECK_THAT(r.output, Catch::Contains("127.0.0.1:1") && Catch::Contains("could not be reached"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("a broker address that hangs up in the handshake is inconclusive, not a refusal",
          "[bad-input]") {
  // A load balancer with no backend or a restarting broker closes the
  // connection or answers in plain text: that says nothing about the set.
  Cli cli("lb-no-backend");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);
  TcpGate gate(cli.tb.bootstrap);
  for (auto mode : {TcpGate::Mode::Close, TcpGate::Mode::PlainText}) {
    gate.set_mode(mode);
    const int connections = gate.connections();
    auto r = cli.run({"rotate", "--bootstrap", gate.address(), "--live-timeout", "3s"});
    INFO(r.output);
    CHECK(gate.connections() > connections);
    CHECK(r.exit_code == 5);
    CHECK_THAT(r.output, Catch::Contains(gate.address()) && Catch::Contains("inconclusive"));
    CHECK_THAT(r.output, !Catch::Contains("refused the new"));
    CHECK(snapshot_live(cli.out) == before);
    CHECK(cli.tb.ack_count(cli.user) == 0);
  }
  // The same address relaying to the broker proves the set: the check, not the set, was at fault.
  gate.set_mode(TcpGate::Mode::Relay);
  auto r = cli.run({"rotate", "--bootstrap", gate.address()});
  CHECK(r.exit_code == 0);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("a set the broker refuses is never swapped", "[bad-input]") {
  // The project CA is being rotated: the API already trusts and signs with
  // the new CA, but the broker still trusts only the old one.
  Cli cli("broker-refuses");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", true}});
  cli.tb.control_post("/_testbed/renew", {{"project", cli.tb.project},
                                          {"service", cli.tb.service},
                                          {"username", cli.user},
                                          {"signer", "new-ca"}});
  auto r = cli.run({"rotate"});
  cli.tb.control_post("/_testbed/ca-bundle", {{"project", cli.tb.project}, {"extra_ca", false}});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.output, Catch::Contains("refused the new set"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}
