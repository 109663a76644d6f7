// The test bed's broker really enforces mTLS: a client certificate from the
// project CA is served; a foreign, an expired and a missing one are refused by
// the broker, and librdkafka's own words say so.
#include <catch2/catch.hpp>
#include <fstream>

#include "certswap/live_validator.hpp"
#include "tcp_gate.hpp"
#include "testbed.hpp"

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A user object as the emulator serves it, optionally with an injected credential fault.
certswap::CredentialSet user_set(const testbed::Testbed& tb, const std::string& user,
                                 const std::string& fault) {
  if (!fault.empty()) {
    tb.add_fault({{"method", "GET"},
                  {"path_regex", ".*/user/" + user + "$"},
                  {"count", 1},
                  {"fault", {{"kind", fault}}}});
  }
  auto r = tb.api("GET", "/v1/project/" + tb.project + "/service/" + tb.service + "/user/" + user);
  REQUIRE(r["status"] == 200);
  const auto& u = r["body"]["user"];
  return {read(tb.project_ca), u["access_cert"], u["access_key"], "test"};
}

}  // namespace

TEST_CASE("a client certificate signed by the project CA gets metadata over mTLS", "[broker]") {
  auto tb = testbed::Testbed::load();
  certswap::CredentialSet admin{read(tb.project_ca), read(tb.admin_cert), read(tb.admin_key),
                                "admin"};
  auto result = certswap::validate_live(admin, tb.bootstrap, std::chrono::seconds(15));
  INFO(result.detail);
  CHECK(result.verdict == certswap::LiveVerdict::Accepted);
  CHECK_THAT(result.detail, Catch::Contains("metadata from 1 broker"));
}

TEST_CASE("the broker refuses a client certificate from a foreign CA", "[broker]") {
  auto tb = testbed::Testbed::load();
  tb.create_user("mtls-foreign");
  auto result = certswap::validate_live(user_set(tb, "mtls-foreign", "foreign_ca_cert"),
                                        tb.bootstrap, std::chrono::seconds(15));
  INFO(result.detail);
  CHECK(result.verdict == certswap::LiveVerdict::Rejected);
  // The Java broker answers an untrusted issuer with alert 46 (certificate_unknown).
  CHECK_THAT(result.detail, Catch::Contains("alert certificate unknown"));
}

TEST_CASE("the broker refuses an expired client certificate from the project CA", "[broker]") {
  auto tb = testbed::Testbed::load();
  tb.create_user("mtls-expired");
  auto result = certswap::validate_live(user_set(tb, "mtls-expired", "expired_cert"), tb.bootstrap,
                                        std::chrono::seconds(15));
  INFO(result.detail);
  CHECK(result.verdict == certswap::LiveVerdict::Rejected);
  // Java's TLS stack reports an expired peer certificate with the same alert 46.
  CHECK_THAT(result.detail, Catch::Contains("alert certificate unknown"));
}

TEST_CASE("the broker refuses a client with no certificate", "[broker]") {
  auto tb = testbed::Testbed::load();
  certswap::CredentialSet none{read(tb.project_ca), "", "", "no certificate"};
  auto result = certswap::validate_live(none, tb.bootstrap, std::chrono::seconds(15));
  INFO(result.detail);
  CHECK(result.verdict == certswap::LiveVerdict::Rejected);
  CHECK_THAT(result.detail, Catch::Contains("alert bad certificate"));
}

TEST_CASE("a connection closed in the handshake or a plain-text answer is inconclusive",
          "[broker]") {
  auto tb = testbed::Testbed::load();
  certswap::CredentialSet admin{read(tb.project_ca), read(tb.admin_cert), read(tb.admin_key),
                                "admin"};
  certswap_test::TcpGate gate(tb.bootstrap);
  for (auto mode : {certswap_test::TcpGate::Mode::Close, certswap_test::TcpGate::Mode::PlainText}) {
    gate.set_mode(mode);
    auto result = certswap::validate_live(admin, gate.address(), std::chrono::seconds(3));
    INFO(result.detail);
    CHECK(gate.connections() > 0);
    CHECK(result.verdict == certswap::LiveVerdict::Inconclusive);
  }
  // The same gate relaying to the broker: the set was never the problem.
  gate.set_mode(certswap_test::TcpGate::Mode::Relay);
  auto result = certswap::validate_live(admin, gate.address(), std::chrono::seconds(15));
  INFO(result.detail);
  CHECK(result.verdict == certswap::LiveVerdict::Accepted);
}
