// certswap against a service as large as a big real one: GET of the service
// and the answers to the user PUTs list every user with its certificate
// (shared/aiven-api.md), so they grow past any fixed cap on a body.
#include "certswap/cert_info.hpp"
#include "cli_harness.hpp"

using namespace certswap_test;
using nlohmann::json;

namespace {

// A service of its own on the test bed's broker, padded with users, so that
// the other tests keep their small one. The padding goes when the test ends:
// every later change would otherwise make the emulator write it to disk.
struct BigService {
  Cli& cli;
  std::string name = unique_name("kafka-big");

  BigService(Cli& c, int padding_users) : cli(c) {
    const auto& bootstrap = cli.tb.bootstrap;
    cli.tb.control_post("/_testbed/service",
                        {{"project", cli.tb.project},
                         {"service", name},
                         {"host", "127.0.0.1"},
                         {"port", std::stoi(bootstrap.substr(bootstrap.rfind(':') + 1))}});
    cli.tb.control_post("/_testbed/users",
                        {{"project", cli.tb.project}, {"service", name}, {"username", cli.user}});
    pad(padding_users);
  }
  ~BigService() { pad(0); }
  BigService(const BigService&) = delete;
  BigService& operator=(const BigService&) = delete;

  void pad(int users) const {
    cli.tb.control_post("/_testbed/padding-users",
                        {{"project", cli.tb.project}, {"service", name}, {"count", users}});
  }
  std::map<std::string, std::string> env() const { return {{"CERTSWAP_SERVICE", name}}; }
  std::string path() const { return "/v1/project/" + cli.tb.project + "/service/" + name; }
  // The size of the answer certswap gets (keys redacted: no include_secrets).
  std::size_t answer_bytes() const {
    const auto answer = cli.tb.api("GET", path());
    REQUIRE(answer["status"] == 200);
    return answer["body"].dump().size();
  }
  json renew() const {
    return cli.tb.control_post("/_testbed/renew", {{"project", cli.tb.project},
                                                   {"service", name},
                                                   {"username", cli.user},
                                                   {"ou", "renewed"}});
  }
  int acks() const {
    return cli.tb
        .control_get("/_testbed/acks?project=" + cli.tb.project + "&service=" + name +
                     "&username=" + cli.user)["count"]
        .get<int>();
  }
  int puts() const {
    int n = 0;
    for (const auto& r : cli.tb.control_get("/_testbed/requests")) {
      if (r.value("method", "") == "PUT" && r.value("path", "") == path() + "/user/" + cli.user)
        ++n;
    }
    return n;
  }
};

std::string fingerprint(const std::string& cert_pem) {
  auto info = certswap::inspect_certificate_pem(cert_pem, "certificate");
  REQUIRE(info);
  return info->sha256_fingerprint;
}

constexpr std::size_t kOldCap = 4 * 1024 * 1024;

}  // namespace

TEST_CASE("a service whose answers pass 4 MiB rotates: validated by the broker, acknowledged once",
          "[api][big]") {
  Cli cli("big");
  // ~1.8 KiB a user with the key redacted, Aiven's default from March 2027.
  BigService big(cli, 4000);
  const auto bytes = big.answer_bytes();
  INFO("GET of the service answers " << bytes << " bytes");
  REQUIRE(bytes > kOldCap + kOldCap / 2);

  REQUIRE(cli.run({"init"}, big.env()).exit_code == 0);
  const auto renewed = big.renew();
  cli.tb.control_delete("/_testbed/requests");
  auto r = cli.run({"rotate"}, big.env());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("accepted the new set"));
  CHECK(big.acks() == 1);
  CHECK(big.puts() == 1);
  CHECK(fingerprint(read(cli.out / "service.cert")) == renewed["fingerprint"]);
}

TEST_CASE("a reset on a service whose answers pass 4 MiB is done once and goes live",
          "[api][big][reset]") {
  Cli cli("big-reset");
  BigService big(cli, 4000);
  REQUIRE(big.answer_bytes() > kOldCap + kOldCap / 2);
  REQUIRE(cli.run({"init"}, big.env()).exit_code == 0);
  const auto old_cert = read(cli.out / "service.cert");
  cli.tb.control_delete("/_testbed/requests");
  auto r = cli.run({"rotate", "--reset-credentials"}, big.env());
  CHECK(r.exit_code == 0);
  CHECK(big.puts() == 1);  // the reset, never repeated
  const auto upstream =
      cli.tb.api("GET", big.path() + "/user/" + cli.user + "?include_secrets=true");
  REQUIRE(upstream["status"] == 200);
  CHECK(read(cli.out / "service.cert") != old_cert);
  CHECK(read(cli.out / "service.cert") == upstream["body"]["user"]["access_cert"]);
}
