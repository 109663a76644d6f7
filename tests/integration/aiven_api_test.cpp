// certswap against the spec-conformant emulator: what it asks the Aiven API
// for (include_secrets), how it reads the answers (a reset answers the service,
// not the user), and which Kafka listener it validates against.
#include "certswap/cert_info.hpp"
#include "cli_harness.hpp"
#include "eventually.hpp"

using namespace certswap_test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string live_fingerprint(const fs::path& out) {
  auto info = certswap::inspect_certificate_pem(read(out / "service.cert"), "live service.cert");
  REQUIRE(info);
  return info->sha256_fingerprint;
}

// The Aiven calls the emulator logged for this user, in order.
std::vector<json> user_requests(const Cli& cli, const std::string& method) {
  std::vector<json> found;
  for (const auto& r : cli.tb.control_get("/_testbed/requests")) {
    if (r.value("method", "") == method && r.value("path", "").ends_with("/user/" + cli.user))
      found.push_back(r);
  }
  return found;
}

json journal(const Cli& cli) {
  return json::parse(read(cli.out / ".certswap" / "state.json"));
}

// What the emulator serves for the user now (with its secrets).
std::string upstream_fingerprint(const Cli& cli, const std::string& service) {
  auto answer = cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + service +
                                      "/user/" + cli.user + "?include_secrets=true");
  REQUIRE(answer["status"] == 200);
  auto info = certswap::inspect_certificate_pem(
      answer["body"]["user"]["access_cert"].get<std::string>(), "upstream");
  REQUIRE(info);
  return info->sha256_fingerprint;
}

int broker_port(const Cli& cli) {
  return std::stoi(cli.tb.bootstrap.substr(cli.tb.bootstrap.rfind(':') + 1));
}

// A service of its own, so that a test can shape its listeners without
// touching the one every other test uses; its user is the Cli's.
struct OwnService {
  Cli& cli;
  std::string name = unique_name("kafka-routes");

  OwnService(Cli& c, json shape) : cli(c) {
    json body = {{"project", cli.tb.project},
                 {"service", name},
                 {"host", "127.0.0.1"},
                 {"port", broker_port(cli)}};
    body.update(shape);
    cli.tb.control_post("/_testbed/service", body);
    cli.tb.control_post("/_testbed/users",
                        {{"project", cli.tb.project}, {"service", name}, {"username", cli.user}});
  }
  std::map<std::string, std::string> env() const { return {{"CERTSWAP_SERVICE", name}}; }
  void renew() const {
    cli.tb.control_post("/_testbed/renew", {{"project", cli.tb.project},
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
};

}  // namespace

TEST_CASE("every GET of a credential asks for its secrets with include_secrets=true", "[api]") {
  Cli cli("include-secrets");
  cli.tb.control_delete("/_testbed/requests");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  REQUIRE(cli.run({"rotate"}).exit_code == 0);
  const auto gets = user_requests(cli, "GET");
  REQUIRE(gets.size() >= 2);
  for (const auto& get : gets) CHECK(get.value("query", "") == "include_secrets=true");
  CHECK(read(cli.out / "service.key").find("PRIVATE KEY") != std::string::npos);
  CHECK(cli.tb.ack_count(cli.user) == 1);
}

TEST_CASE("a token that may not read secrets gets its own error and changes nothing",
          "[api][bad-input]") {
  Cli cli("no-secrets");
  const auto weak_token = fs::path(cli.tb.emulator_dir) / "token-no-secrets";
  const auto weak = read(weak_token).substr(0, read(weak_token).find('\n'));
  REQUIRE(weak.size() > 8);
  cli.secrets.push_back(weak);
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);
  auto r = cli.run({"rotate"}, {{"CERTSWAP_TOKEN_FILE", weak_token.string()}});
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("HTTP 403") && Catch::Contains("service:secrets:read") &&
                           Catch::Contains("include_secrets=true"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(journal(cli)["staged_fingerprint"] == "");
}

TEST_CASE("a redacted key is named as such, nothing is staged, swapped or acknowledged",
          "[api][bad-input]") {
  Cli cli("redacted");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  cli.tb.renew(cli.user, "gen2");
  const auto before = snapshot_live(cli.out);
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user},
                    {"count", 1},
                    {"fault", {{"kind", "redacted_key"}}}});
  auto r = cli.run({"rotate"});
  cli.tb.clear_faults();
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("access_key") && Catch::Contains("redacted") &&
                           Catch::Contains("service:secrets:read"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(journal(cli)["staged_fingerprint"] == "");
}

TEST_CASE("rotate --reset-credentials reads the new pair back: the PUT answers the service",
          "[api][reset]") {
  Cli cli("reset-get");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto old_fp = live_fingerprint(cli.out);
  cli.tb.control_delete("/_testbed/requests");
  auto r = cli.run({"rotate", "--reset-credentials"});
  REQUIRE(r.exit_code == 0);
  CHECK(live_fingerprint(cli.out) != old_fp);
  CHECK(live_fingerprint(cli.out) == upstream_fingerprint(cli, cli.tb.service));
  CHECK(user_requests(cli, "PUT").size() == 1);
  // The pair is read with a GET after the PUT.
  const auto log = cli.tb.control_get("/_testbed/requests");
  std::vector<std::string> order;
  for (const auto& req : log) {
    if (req.value("path", "").ends_with("/user/" + cli.user)) order.push_back(req["method"]);
  }
  // The GET before the PUT records which pair the reset replaces.
  REQUIRE(order.size() >= 3);
  CHECK(order.front() == "GET");
  CHECK(std::ranges::count(order, "PUT") == 1);
  CHECK(order.back() == "GET");
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(journal(cli)["reset_requested"] == 0);
}

TEST_CASE("a reset whose follow-up GET failed is finished by the next run, not reset again",
          "[api][reset][bad-input]") {
  Cli cli("reset-fail");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.control_delete("/_testbed/requests");
  // The GET after the PUT: the one before it (which pair is replaced) passes.
  cli.tb.add_fault({{"method", "GET"},
                    {"path_regex", ".*/user/" + cli.user},
                    {"count", 1},
                    {"skip", 1},
                    {"fault", {{"kind", "status"}, {"status", 404}}}});
  auto failed = cli.run({"rotate", "--reset-credentials"});
  cli.tb.clear_faults();
  CHECK(failed.exit_code == 4);
  CHECK(snapshot_live(cli.out) == before);
  CHECK(cli.tb.ack_count(cli.user) == 0);
  CHECK(journal(cli)["reset_requested"] != 0);

  auto finished = cli.run({"rotate", "--reset-credentials"});
  REQUIRE(finished.exit_code == 0);
  CHECK_THAT(finished.output, Catch::Contains("not resetting again"));
  CHECK(user_requests(cli, "PUT").size() == 1);
  CHECK(live_fingerprint(cli.out) == upstream_fingerprint(cli, cli.tb.service));
  CHECK(journal(cli)["reset_requested"] == 0);
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("a reset whose answer was lost after Aiven acted is installed, not asked again",
          "[api][reset]") {
  Cli cli("reset-lost");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto before = snapshot_live(cli.out);
  cli.tb.control_delete("/_testbed/requests");
  const auto old_fp = live_fingerprint(cli.out);
  // The answer comes after certswap gave up waiting, and Aiven resets then:
  // the emulator's delay runs before the reset.
  cli.tb.add_fault({{"method", "PUT"},
                    {"path_regex", ".*/user/" + cli.user},
                    {"count", 1},
                    {"fault", {{"kind", "delay"}, {"ms", 3000}}}});
  auto lost = cli.run({"rotate", "--reset-credentials", "--api-timeout", "1s"});
  CHECK(lost.exit_code == 4);
  CHECK_THAT(lost.output, Catch::Contains("may or may not have made a new pair") &&
                              Catch::Contains("certswap rotate"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(journal(cli)["reset_requested"] != 0);
  REQUIRE(eventually([&] { return upstream_fingerprint(cli, cli.tb.service) != old_fp; }, 30s));
  cli.tb.clear_faults();

  auto again = cli.run({"rotate", "--reset-credentials"});
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("not resetting again"));
  CHECK(user_requests(cli, "PUT").size() == 1);
  CHECK(live_fingerprint(cli.out) == upstream_fingerprint(cli, cli.tb.service));
  CHECK(journal(cli)["reset_requested"] == 0);
}

TEST_CASE("a reset that did not take is asked again, a refused one owes nothing", "[api][reset]") {
  Cli cli("reset-retry");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto old_fp = live_fingerprint(cli.out);
  SECTION("a server error: Aiven may not have acted, and still serves the old pair") {
    cli.tb.add_fault({{"method", "PUT"},
                      {"path_regex", ".*/user/" + cli.user},
                      {"count", 1},
                      {"fault", {{"kind", "status"}, {"status", 503}}}});
    // 503 is retried for GETs only: the one PUT fails.
    auto failed = cli.run({"rotate", "--reset-credentials"});
    cli.tb.clear_faults();
    CHECK(failed.exit_code == 4);
    CHECK(journal(cli)["reset_requested"] != 0);
    CHECK(upstream_fingerprint(cli, cli.tb.service) == old_fp);
    auto again = cli.run({"rotate", "--reset-credentials"});
    REQUIRE(again.exit_code == 0);
    CHECK_THAT(again.output, Catch::Contains("asked again"));
    CHECK(live_fingerprint(cli.out) != old_fp);
  }
  SECTION("a refusal: Aiven did nothing") {
    cli.tb.add_fault({{"method", "PUT"},
                      {"path_regex", ".*/user/" + cli.user},
                      {"count", 1},
                      {"fault", {{"kind", "status"}, {"status", 403}}}});
    auto refused = cli.run({"rotate", "--reset-credentials"});
    cli.tb.clear_faults();
    CHECK(refused.exit_code == 4);
    CHECK_THAT(refused.output, Catch::Contains("refused the reset"));
    CHECK(journal(cli)["reset_requested"] == 0);
    CHECK(live_fingerprint(cli.out) == old_fp);
  }
  CHECK(live_fingerprint(cli.out) == upstream_fingerprint(cli, cli.tb.service));
  CHECK(cli.tb.ack_count(cli.user) == 0);
}

TEST_CASE("a dry run that asks for a reset is refused before any request", "[api][reset]") {
  Cli cli("reset-dry");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  const auto fp = upstream_fingerprint(cli, cli.tb.service);
  cli.tb.control_delete("/_testbed/requests");
  auto r = cli.run({"rotate", "--dry-run", "--reset-credentials"});
  CHECK(r.exit_code == 64);
  CHECK(user_requests(cli, "PUT").empty());
  CHECK(upstream_fingerprint(cli, cli.tb.service) == fp);
}

TEST_CASE("the broker check uses the dynamic certificate listener in any component order",
          "[api][listener]") {
  Cli cli("listener");
  REQUIRE(cli.run({"init"}).exit_code == 0);
  // The emulator shuffles its components on every answer; the other listeners
  // point at loopback ports where nothing listens.
  for (int round = 0; round < 3; ++round) {
    cli.tb.renew(cli.user, "round" + std::to_string(round));
    auto r = cli.run({"rotate"});
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("broker " + cli.tb.bootstrap + " accepted"));
  }
  CHECK(cli.tb.ack_count(cli.user) == 3);
}

TEST_CASE("with route private the check uses the service's private listener", "[api][listener]") {
  Cli cli("route-private");
  // The private route leads to the real broker under another name.
  OwnService svc(cli,
                 {{"routes", {{"private", {{"host", "localhost"}, {"port", broker_port(cli)}}}}}});
  auto env = svc.env();
  env["CERTSWAP_KAFKA_ROUTE"] = "private";
  REQUIRE(cli.run({"init"}, env).exit_code == 0);
  svc.renew();
  auto r = cli.run({"rotate"}, env);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             Catch::Contains("broker localhost:" + std::to_string(broker_port(cli)) + " accepted"));
  CHECK(svc.acks() == 1);
}

TEST_CASE("a route the service does not list is a named error: exit 4, nothing changes",
          "[api][listener][bad-input]") {
  Cli cli("route-missing");
  OwnService svc(cli, json::object());
  REQUIRE(cli.run({"init"}, svc.env()).exit_code == 0);
  svc.renew();
  const auto before = snapshot_live(cli.out);
  auto r = cli.run({"rotate", "--kafka-route", "privatelink"}, svc.env());
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("no usable Kafka listener") &&
                           Catch::Contains("\"privatelink\"") && Catch::Contains("--bootstrap"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(svc.acks() == 0);

  SECTION("--bootstrap still overrides what the API lists") {
    auto forced = cli.run(
        {"rotate", "--kafka-route", "privatelink", "--bootstrap", cli.tb.bootstrap}, svc.env());
    CHECK(forced.exit_code == 0);
    CHECK(svc.acks() == 1);
  }
}

TEST_CASE("a service that lists no components is validated at its service_uri", "[api][listener]") {
  Cli cli("service-uri");
  OwnService svc(cli, {{"components", false}});
  REQUIRE(cli.run({"init"}, svc.env()).exit_code == 0);
  svc.renew();
  auto r = cli.run({"rotate"}, svc.env());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             Catch::Contains("broker 127.0.0.1:" + std::to_string(broker_port(cli)) + " accepted"));
  CHECK(svc.acks() == 1);

  SECTION("and with neither, the error says so") {
    OwnService bare(cli, {{"components", false}, {"service_uri", ""}});
    bare.renew();
    auto none = cli.run({"rotate"}, bare.env());
    CHECK(none.exit_code == 4);
    CHECK_THAT(none.output,
               Catch::Contains("no usable Kafka listener") && Catch::Contains("no service_uri"));
    CHECK(bare.acks() == 0);
  }
}

TEST_CASE("a service whose Kafka listeners take no certificates is refused, as avn refuses it",
          "[api][listener][bad-input]") {
  Cli cli("sasl-only");
  OwnService svc(cli, json::object());
  REQUIRE(cli.run({"init"}, svc.env()).exit_code == 0);
  // Certificate authentication switched off: service_uri is a SASL listener now.
  cli.tb.control_post("/_testbed/service", {{"project", cli.tb.project},
                                            {"service", svc.name},
                                            {"host", "127.0.0.1"},
                                            {"port", broker_port(cli)},
                                            {"certificate_auth", false}});
  svc.renew();
  const auto before = snapshot_live(cli.out);
  auto r = cli.run({"rotate"}, svc.env());
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output, Catch::Contains("certificate authentication is not enabled"));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(svc.acks() == 0);
}

TEST_CASE("the inbox source asks the API for the --kafka-route listener too", "[api][listener]") {
  Cli cli("inbox-route");
  OwnService svc(cli, json::object());
  REQUIRE(cli.run({"init"}, svc.env()).exit_code == 0);
  svc.renew();
  // The renewed pair, dropped into the inbox as `avn service user-creds-download` would.
  const auto user =
      cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + svc.name + "/user/" +
                            cli.user + "?include_secrets=true")["body"]["user"];
  const auto inbox = cli.out.parent_path() / (cli.out.filename().string() + ".inbox");
  fs::create_directories(inbox);
  std::ofstream(inbox / "ca.pem") << read(cli.tb.project_ca);
  std::ofstream(inbox / "service.cert") << user["access_cert"].get<std::string>();
  std::ofstream(inbox / "service.key") << user["access_key"].get<std::string>();
  const auto before = snapshot_live(cli.out);
  auto r = cli.run({"rotate", "--source", "inbox", "--inbox-dir", inbox.string(), "--kafka-route",
                    "privatelink"},
                   svc.env());
  CHECK(r.exit_code == 4);
  CHECK_THAT(r.output,
             Catch::Contains("no usable Kafka listener") && Catch::Contains("\"privatelink\""));
  CHECK(snapshot_live(cli.out) == before);
  CHECK(svc.acks() == 0);
}

TEST_CASE(
    "a renewal timed as Aiven times it: the old certificate has about 90 days left, the "
    "new one 820",
    "[api]") {
  Cli cli("renewal-timing");
  // The moment a renewal appears upstream: a user whose pair ends in 90 days.
  const std::string user = unique_name("ninety-days");
  cli.tb.control_post(
      "/_testbed/users",
      {{"project", cli.tb.project}, {"service", cli.tb.service}, {"username", user}, {"days", 90}});
  auto env = std::map<std::string, std::string>{{"CERTSWAP_USER", user}};
  REQUIRE(cli.run({"init"}, env).exit_code == 0);
  cli.tb.renew(user, "renewed");
  const auto got =
      cli.tb.api("GET", "/v1/project/" + cli.tb.project + "/service/" + cli.tb.service + "/user/" +
                            user + "?include_secrets=true");
  REQUIRE(got["status"] == 200);
  const auto& u = got["body"]["user"];
  const auto days_from_now = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::hours>(t - std::chrono::system_clock::now())
               .count() /
           24.0;
  };
  auto old_end =
      certswap::parse_iso8601(u["expiring_cert_not_valid_after_time"].get<std::string>());
  REQUIRE(old_end);
  CHECK(days_from_now(*old_end) == Approx(90).margin(1));
  auto fresh = certswap::inspect_certificate_pem(u["access_cert"].get<std::string>(), "renewed");
  REQUIRE(fresh);
  CHECK(days_from_now(fresh->not_after) == Approx(820).margin(1));
  auto r = cli.run({"rotate"}, env);
  CHECK(r.exit_code == 0);
  auto live = certswap::inspect_certificate_pem(read(cli.out / "service.cert"), "live");
  REQUIRE(live);
  CHECK(live->sha256_fingerprint == fresh->sha256_fingerprint);
  CHECK(cli.tb.ack_count(user) == 1);
}

TEST_CASE("a PrivateLink connection id picks that connection's listener, as avn's selector does",
          "[api][listener]") {
  Cli cli("privatelink-id");
  // Two connections; only plc-second leads to the broker. The emulator lists
  // the components in a new order on every answer, so taking the first
  // PrivateLink listener would hit the dead one about half the time.
  OwnService svc(cli, {{"privatelink_connections",
                        {{"plc-first", {{"host", "127.0.0.9"}, {"port", 1}}},
                         {"plc-second", {{"host", "localhost"}, {"port", broker_port(cli)}}}}}});
  auto env = svc.env();
  env["CERTSWAP_PRIVATELINK_CONNECTION_ID"] = "plc-second";
  REQUIRE(cli.run({"init"}, env).exit_code == 0);
  for (int round = 0; round < 4; ++round) {
    svc.renew();
    auto r = cli.run({"rotate"}, env);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("broker localhost:" + std::to_string(broker_port(cli)) +
                                         " accepted"));
  }
  CHECK(svc.acks() == 4);

  SECTION("an id the service does not list is exit 4 naming the ones it does") {
    svc.renew();
    const auto before = snapshot_live(cli.out);
    auto r = cli.run({"rotate", "--privatelink-connection-id", "plc-gone"}, svc.env());
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.output, Catch::Contains("\"plc-gone\"") && Catch::Contains("plc-first") &&
                             Catch::Contains("plc-second"));
    CHECK(snapshot_live(cli.out) == before);
    CHECK(svc.acks() == 4);
  }

  SECTION("with another route it is a usage error, as in avn") {
    auto r =
        cli.run({"rotate", "--privatelink-connection-id", "plc-second", "--kafka-route", "public"},
                svc.env());
    CHECK(r.exit_code == 64);
    CHECK_THAT(r.output, Catch::Contains("cannot be used with Kafka route \"public\""));
  }
}
