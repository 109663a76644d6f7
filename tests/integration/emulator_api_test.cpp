// The emulator speaks the Aiven API as shared/aiven-api.md documents it:
// paths, field names and types, auth scheme, error shape, renewal model, faults.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "certswap/cert_info.hpp"
#include "eventually.hpp"
#include "process.hpp"
#include "testbed.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Unique per run, so the tests also pass against a long-lived test bed.
std::string fresh(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  return prefix + "-" + std::to_string(rng() % 1'000'000'000);
}

std::string user_path(const testbed::Testbed& tb, const std::string& user) {
  return "/v1/project/" + tb.project + "/service/" + tb.service + "/user/" + user;
}

// Secrets come only to a GET that asks (aiven-docs tools/api/secret-redaction.md).
const std::string kSecrets = "?include_secrets=true";

void check_error_shape(const json& r, int status) {
  CHECK(r["status"] == status);
  const json& body = r["body"];
  REQUIRE(body.is_object());
  CHECK(body["message"].is_string());
  REQUIRE(body["errors"].is_array());
  CHECK(body["errors"][0]["message"].is_string());
  CHECK(body["errors"][0]["status"] == status);
}

void check_user_shape(const json& u) {
  CHECK(u["username"].is_string());
  CHECK(u["type"].is_string());
  CHECK(u["password"].is_string());
  // A string when present (spec ServiceUserGet), never null; Kafka users have none.
  CHECK((!u.contains("authentication") || u["authentication"].is_string()));
  CHECK(u["access_cert"].get<std::string>().starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(u["access_key"].get<std::string>().starts_with("-----BEGIN PRIVATE KEY-----"));
  CHECK(certswap::parse_iso8601(u["access_cert_not_valid_after_time"].get<std::string>()));
  CHECK(u["password_updated_time"].is_string());
}

}  // namespace

TEST_CASE("the emulator answers each endpoint with the documented shape", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto shape = fresh("shape");
  tb.create_user(shape);

  auto user = tb.api("GET", user_path(tb, shape) + kSecrets);
  REQUIRE(user["status"] == 200);
  check_user_shape(user["body"]["user"]);
  CHECK_FALSE(user["body"]["user"].contains("expiring_cert_not_valid_after_time"));

  auto list =
      tb.api("GET", "/v1/project/" + tb.project + "/service/" + tb.service + "/user" + kSecrets);
  REQUIRE(list["status"] == 200);
  REQUIRE(list["body"]["users"].is_array());
  for (const auto& u : list["body"]["users"]) check_user_shape(u);

  auto service = tb.api("GET", "/v1/project/" + tb.project + "/service/" + tb.service);
  REQUIRE(service["status"] == 200);
  const json& s = service["body"]["service"];
  CHECK(s["service_uri"] == tb.bootstrap);
  CHECK(s["users"].is_array());
  REQUIRE(s["components"].is_array());
  int dynamic_certificate = 0;
  for (const auto& c : s["components"]) {
    CHECK(c["component"].is_string());
    CHECK(c["host"].is_string());
    CHECK(c["port"].is_number_integer());
    CHECK(c["route"].is_string());
    if (c["component"] == "kafka" && c["route"] == "dynamic" &&
        c["kafka_authentication_method"] == "certificate") {
      ++dynamic_certificate;
      CHECK(std::to_string(c["port"].get<int>()) ==
            tb.bootstrap.substr(tb.bootstrap.rfind(':') + 1));
    }
  }
  CHECK(dynamic_certificate == 1);
  for (auto field : {"cloud_name", "plan", "state", "create_time", "user_config"})
    CHECK(s.contains(field));

  auto ca = tb.api("GET", "/v1/project/" + tb.project + "/kms/ca");
  REQUIRE(ca["status"] == 200);
  CHECK(ca["body"]["certificate"].get<std::string>().starts_with("-----BEGIN CERTIFICATE-----"));

  SECTION("the Bearer scheme of Aiven's docs is accepted too") {
    CHECK(tb.api("GET", user_path(tb, shape), "", "Bearer " + tb.token())["status"] == 200);
  }
}

TEST_CASE("the emulator refuses bad tokens and unknown names with the API's error shape",
          "[emulator]") {
  auto tb = testbed::Testbed::load();
  check_error_shape(tb.api("GET", user_path(tb, "app"), "", ""), 401);
  check_error_shape(tb.api("GET", user_path(tb, "app"), "", "aivenv1 wrong-token"), 403);
  check_error_shape(tb.api("GET", user_path(tb, "nobody") + kSecrets), 404);
  check_error_shape(tb.api("GET", "/v1/project/nope/kms/ca"), 404);
  check_error_shape(tb.api("GET", "/v1/project/" + tb.project + "/service/nope"), 404);
  check_error_shape(tb.api("PUT", user_path(tb, "app"), R"({"operation":"fly"})"), 400);
}

TEST_CASE("a renewal serves a new pair and stays pending until acknowledged", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto renewal = fresh("renewal");
  tb.create_user(renewal);
  const auto before = tb.api("GET", user_path(tb, renewal) + kSecrets)["body"]["user"];
  auto renewed = tb.renew(renewal, "second");
  auto after = tb.api("GET", user_path(tb, renewal) + kSecrets)["body"]["user"];
  CHECK(after["access_cert"] != before["access_cert"]);
  CHECK(after["access_key"] != before["access_key"]);
  CHECK(after["expiring_cert_not_valid_after_time"] == before["access_cert_not_valid_after_time"]);
  auto info = certswap::inspect_certificate_pem(after["access_cert"].get<std::string>(), "renewed");
  REQUIRE(info);
  CHECK_THAT(info->subject, Catch::Contains("OU=second"));
  CHECK(info->sha256_fingerprint == renewed["fingerprint"]);
  CHECK(tb.ack_count(renewal) == 0);

  CHECK(tb.api("PUT", user_path(tb, renewal), R"({"operation":"acknowledge-renewal"})")["status"] ==
        200);
  CHECK_FALSE(tb.api("GET", user_path(tb, renewal) + kSecrets)["body"]["user"].contains(
      "expiring_cert_not_valid_after_time"));
  CHECK(tb.ack_count(renewal) == 1);
  // Idempotent upstream; every call is counted so that tests can prove "exactly once".
  CHECK(tb.api("PUT", user_path(tb, renewal), R"({"operation":"acknowledge-renewal"})")["status"] ==
        200);
  auto acks = tb.control_get("/_testbed/acks?project=" + tb.project + "&service=" + tb.service +
                             "&username=" + renewal);
  CHECK(acks["count"] == 2);
  CHECK(acks["pending"] == false);
  CHECK(acks["fingerprints"][0] == renewed["fingerprint"]);
}

TEST_CASE("reset-credentials makes a new certificate and key from the project CA", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto name = fresh("reset");
  tb.create_user(name);
  const auto before = tb.api("GET", user_path(tb, name) + kSecrets)["body"]["user"];
  auto reset = tb.api("PUT", user_path(tb, name), R"({"operation":"reset-credentials"})");
  REQUIRE(reset["status"] == 200);
  // The answer is the service (spec ServiceUserCredentialsModifyResponse),
  // its secrets redacted; the new pair is read back with a GET.
  CHECK_FALSE(reset["body"].contains("user"));
  REQUIRE(reset["body"]["service"].is_object());
  for (const auto& u : reset["body"]["service"]["users"]) CHECK(u["access_key"] == "<redacted>");
  const auto after = tb.api("GET", user_path(tb, name) + kSecrets)["body"]["user"];
  check_user_shape(after);
  CHECK(after["access_cert"] != before["access_cert"]);
  CHECK(after["password"] != before["password"]);
  auto info = certswap::inspect_certificate_pem(after["access_cert"].get<std::string>(), "reset");
  REQUIRE(info);
  CHECK(info->subject == "CN=" + name + ",OU=reset,O=" + tb.service);
}

TEST_CASE("secrets are redacted unless a GET asks, and only a token that may read them gets them",
          "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto name = fresh("redact");
  tb.create_user(name);
  auto plain = tb.api("GET", user_path(tb, name));
  REQUIRE(plain["status"] == 200);
  CHECK(plain["body"]["user"]["access_key"] == "<redacted>");
  CHECK(plain["body"]["user"]["password"] == "<redacted>");
  CHECK(plain["body"]["user"]["access_cert"].get<std::string>().starts_with("-----BEGIN"));
  std::ifstream weak_file(tb.emulator_dir + "/token-no-secrets");
  std::string weak;
  std::getline(weak_file, weak);
  REQUIRE_FALSE(weak.empty());
  auto denied = tb.api("GET", user_path(tb, name) + kSecrets, "", "aivenv1 " + weak);
  check_error_shape(denied, 403);
  CHECK(denied["body"]["errors"][0]["error_code"] == "permission_denied");
  CHECK(tb.api("GET", user_path(tb, name), "", "AIVENV1 " + weak)["status"] == 200);

  SECTION("before 1 March 2027 nothing is redacted by default") {
    tb.control_post("/_testbed/settings", {{"redact_by_default", false}});
    auto old = tb.api("GET", user_path(tb, name));
    tb.control_post("/_testbed/settings", {{"redact_by_default", true}});
    CHECK(old["body"]["user"]["access_key"].get<std::string>().starts_with("-----BEGIN"));
  }
}

TEST_CASE("user certificates follow Aiven's profile: RSA-3072, SHA384withRSA, no EKU",
          "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto name = fresh("profile");
  tb.create_user(name);
  const auto pem = tb.api("GET", user_path(tb, name) + kSecrets)["body"]["user"]["access_cert"]
                       .get<std::string>();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  REQUIRE(cert);
  CHECK(X509_get_signature_nid(cert.get()) == NID_sha384WithRSAEncryption);
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  CHECK(EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA);
  CHECK(EVP_PKEY_get_bits(key) == 3072);
  CHECK(X509_get_ext_by_NID(cert.get(), NID_ext_key_usage, -1) < 0);
}

TEST_CASE("the request log keeps the query and the headers, the token masked", "[emulator]") {
  auto tb = testbed::Testbed::load();
  tb.control_delete("/_testbed/requests");
  tb.api("GET", user_path(tb, "app") + kSecrets);
  auto log = tb.control_get("/_testbed/requests");
  REQUIRE(log.size() == 1);
  CHECK(log[0]["query"] == "include_secrets=true");
  CHECK(log[0]["headers"]["authorization"] == "aivenv1 ***");
}

TEST_CASE("every injected fault is returned", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto faulty = fresh("faulty");
  tb.create_user(faulty);
  const auto path = user_path(tb, faulty) + kSecrets;
  auto inject = [&](json fault) {
    tb.add_fault({{"method", "GET"},
                  {"path_regex", ".*/user/" + faulty + "$"},
                  {"count", 1},
                  {"fault", fault}});
  };
  inject({{"kind", "status"}, {"status", 503}, {"message", "maintenance"}});
  auto r = tb.api("GET", path);
  check_error_shape(r, 503);
  CHECK(r["body"]["message"] == "maintenance");

  inject({{"kind", "rate_limit"}, {"retry_after", 7}});
  r = tb.api("GET", path);
  check_error_shape(r, 429);
  CHECK(r["headers"]["Retry-After"] == "7");

  inject({{"kind", "delay"}, {"ms", 600}});
  const auto start = std::chrono::steady_clock::now();
  r = tb.api("GET", path);
  CHECK(r["status"] == 200);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(600));

  inject({{"kind", "drop"}});
  CHECK(tb.api("GET", path)["status"] == 0);

  inject({{"kind", "truncated_body"}});
  r = tb.api("GET", path);
  CHECK((r["status"] == 0 || r["body"].is_discarded()));

  inject({{"kind", "malformed_json"}});
  r = tb.api("GET", path);
  CHECK(r["status"] == 200);
  CHECK(r["body"].is_discarded());

  inject({{"kind", "missing_field"}, {"field", "access_key"}});
  CHECK_FALSE(tb.api("GET", path)["body"]["user"].contains("access_key"));

  inject({{"kind", "malformed_pem_cert"}});
  CHECK_FALSE(certswap::inspect_certificate_pem(
      tb.api("GET", path)["body"]["user"]["access_cert"].get<std::string>(), "x"));

  inject({{"kind", "foreign_ca_cert"}});
  auto foreign = certswap::inspect_certificate_pem(
      tb.api("GET", path)["body"]["user"]["access_cert"].get<std::string>(), "x");
  REQUIRE(foreign);
  CHECK(foreign->issuer == "CN=Some Other CA");

  inject({{"kind", "expired_cert"}});
  auto expired = certswap::inspect_certificate_pem(
      tb.api("GET", path)["body"]["user"]["access_cert"].get<std::string>(), "x");
  REQUIRE(expired);
  CHECK(expired->not_after < std::chrono::system_clock::now());

  inject({{"kind", "not_yet_valid_cert"}});
  auto future = certswap::inspect_certificate_pem(
      tb.api("GET", path)["body"]["user"]["access_cert"].get<std::string>(), "x");
  REQUIRE(future);
  CHECK(future->not_before > std::chrono::system_clock::now());

  tb.add_fault({{"method", "GET"},
                {"path_regex", ".*/kms/ca$"},
                {"count", 1},
                {"fault", {{"kind", "malformed_pem_ca"}}}});
  CHECK_FALSE(certswap::inspect_certificate_pem(
      tb.api("GET", "/v1/project/" + tb.project + "/kms/ca")["body"]["certificate"]
          .get<std::string>(),
      "x"));

  // Faults are one-shot and leave the stored state alone.
  r = tb.api("GET", path);
  CHECK(r["status"] == 200);
  check_user_shape(r["body"]["user"]);
}

TEST_CASE("the emulator's state survives a restart", "[emulator]") {
  namespace fs = std::filesystem;
  const auto dir =
      fs::temp_directory_path() / ("certswap-emulator-restart-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto start = [&] {
    fs::remove(dir / "ready.json");
    return testbed::run_process({"/bin/sh", "-c",
                                 std::string("'") + EMULATOR_BIN + "' --state-dir '" +
                                     dir.string() + "' --ready-file '" + dir.string() +
                                     "/ready.json' >/dev/null 2>&1 & echo $!"});
  };
  auto wait_ready = [&] {
    REQUIRE(certswap_test::eventually([&] { return fs::exists(dir / "ready.json"); }, 30s));
  };
  // Gone once it has exited: no /proc entry, or a zombie its new parent (the
  // shell that started it has exited) has not reaped yet. The next emulator
  // must not share the state directory with one still shutting down.
  auto stop = [&](const std::string& pid) {
    testbed::run_process({"/bin/kill", pid});
    REQUIRE(certswap_test::eventually(
        [&] {
          std::ifstream status("/proc/" + pid + "/status");
          std::string line;
          while (std::getline(status, line))
            if (line.starts_with("State:")) return line.find('Z') != std::string::npos;
          return true;
        },
        30s));
  };
  auto tb_for = [&] {
    testbed::Testbed tb;
    std::ifstream in(dir / "ready.json");
    tb.api_url = json::parse(in)["api_url"];
    tb.api_ca = (dir / "api-ca.pem").string();
    tb.token_file = (dir / "token").string();
    tb.project = "test-project";
    tb.service = "kafka-test";
    return tb;
  };
  auto first = start();
  std::string pid = first.output.substr(0, first.output.find('\n'));
  wait_ready();
  auto tb = tb_for();
  auto renewed = tb.renew("app", "persisted");
  stop(pid);

  auto second = start();
  pid = second.output.substr(0, second.output.find('\n'));
  wait_ready();
  tb = tb_for();
  auto user = tb.api("GET", "/v1/project/test-project/service/kafka-test/user/app");
  stop(pid);
  REQUIRE(user["status"] == 200);
  auto info = certswap::inspect_certificate_pem(
      user["body"]["user"]["access_cert"].get<std::string>(), "x");
  REQUIRE(info);
  CHECK(info->sha256_fingerprint == renewed["fingerprint"]);
  CHECK(user["body"]["user"].contains("expiring_cert_not_valid_after_time"));
  fs::remove_all(dir);
}

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::unique_ptr<X509, decltype(&X509_free)> read_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return {PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free};
}

std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> read_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free};
}

}  // namespace

TEST_CASE("key faults: a key that does not parse, a key that does not match", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto name = fresh("keyfault");
  tb.create_user(name);
  auto inject = [&](const std::string& kind) {
    tb.add_fault({{"method", "GET"},
                  {"path_regex", ".*/user/" + name + "$"},
                  {"count", 1},
                  {"fault", {{"kind", kind}}}});
    return tb.api("GET", user_path(tb, name) + kSecrets)["body"]["user"];
  };
  auto good = tb.api("GET", user_path(tb, name) + kSecrets)["body"]["user"];
  {
    auto cert = read_cert(good["access_cert"]);
    auto key = read_key(good["access_key"]);
    REQUIRE((cert && key));
    CHECK(X509_check_private_key(cert.get(), key.get()) == 1);
  }
  CHECK_FALSE(read_key(inject("malformed_pem_key")["access_key"]));
  auto mismatched = inject("mismatched_key");
  auto cert = read_cert(mismatched["access_cert"]);
  auto key = read_key(mismatched["access_key"]);
  REQUIRE((cert && key));
  CHECK(X509_check_private_key(cert.get(), key.get()) != 1);
}

TEST_CASE("users can be created and deleted through the API, except the primary one",
          "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto name = fresh("crud");
  const auto users = "/v1/project/" + tb.project + "/service/" + tb.service + "/user";
  auto created = tb.api("POST", users, json{{"username", name}}.dump());
  CHECK(created["status"] == 200);  // the spec lists only 200 for ServiceUserCreate
  check_user_shape(created["body"]["user"]);
  CHECK(created["body"]["user"]["type"] == "normal");
  CHECK(tb.api("DELETE", user_path(tb, name))["status"] == 200);
  check_error_shape(tb.api("GET", user_path(tb, name) + kSecrets), 404);
  check_error_shape(tb.api("DELETE", user_path(tb, "avnadmin")), 400);
}

TEST_CASE("the CA bundle, the request log and the acks of an unknown user", "[emulator]") {
  auto tb = testbed::Testbed::load();
  const auto ca_path = "/v1/project/" + tb.project + "/kms/ca";
  auto count_certs = [&] {
    const auto pem = tb.api("GET", ca_path)["body"]["certificate"].get<std::string>();
    int n = 0;
    for (auto at = pem.find("BEGIN CERTIFICATE"); at != std::string::npos;
         at = pem.find("BEGIN CERTIFICATE", at + 1))
      ++n;
    return n;
  };
  CHECK(count_certs() == 1);
  tb.control_post("/_testbed/ca-bundle", {{"project", tb.project}, {"extra_ca", true}});
  CHECK(count_certs() == 2);
  tb.control_post("/_testbed/ca-bundle", {{"project", tb.project}, {"extra_ca", false}});
  CHECK(count_certs() == 1);

  auto log = tb.control_get("/_testbed/requests");
  REQUIRE(log.is_array());
  REQUIRE_FALSE(log.empty());
  // Search rather than take the last entry: other tests may share the emulator.
  json last;
  for (const auto& r : log)
    if (r["path"] == ca_path) last = r;
  REQUIRE(last.is_object());
  CHECK(last["method"] == "GET");
  CHECK(last["path"] == ca_path);
  CHECK(last["status"] == 200);
  CHECK(last["time"].is_string());

  CHECK_THROWS(tb.control_get("/_testbed/acks?project=" + tb.project + "&service=" + tb.service +
                              "&username=" + fresh("nobody")));
}
