#include "certswap/offline_validator.hpp"

#include <openssl/x509.h>

#include <catch2/catch.hpp>

#include "certswap/cert_info.hpp"
#include "certswap/pem.hpp"
#include "pki.hpp"
#include "test_pki.hpp"

using namespace certswap;
using namespace std::chrono_literals;
using emulator::Authority;
using emulator::CertRequest;

namespace {

const auto kNow = std::chrono::system_clock::now();

Authority make_ca(const std::string& cn) {
  auto issued =
      emulator::issue({cn, "", true, false, false, kNow - 24h, kNow + 3650 * 24h}, nullptr);
  return {issued.cert_pem, issued.key_pem};
}

const Authority& project_ca() {
  static const Authority ca = make_ca("Project CA");
  return ca;
}

CredentialSet client_set(const Authority& ca,
                         CertRequest request = {"app", "kafka", false, false, true, kNow - 1h,
                                                kNow + 820 * 24h}) {
  auto issued = emulator::issue(request, &ca);
  return {project_ca().cert_pem, issued.cert_pem, issued.key_pem,
          "GET /v1/project/p/service/s/user/app"};
}

OfflinePolicy policy() {
  return {300s, 24h};
}

}  // namespace

TEST_CASE("a set signed by the project CA passes and reports the certificate's fingerprint") {
  auto set = client_set(project_ca());
  auto info = validate_offline(set, policy(), kNow);
  REQUIRE(info);
  CHECK(info->subject == "CN=app,OU=kafka");
  CHECK(info->issuer == "CN=Project CA");
  auto certs = parse_certificates(set.cert_pem, "x");
  REQUIRE(certs);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(certs->front().get(), EVP_sha256(), md, &len);
  std::string expected;
  for (unsigned i = 0; i < len; ++i) expected += fmt::format("{:02x}", md[i]);
  CHECK(info->sha256_fingerprint == expected);
}

TEST_CASE("a CA bundle is trusted as a whole: a leaf from its second CA passes") {
  const Authority next = make_ca("Next Project CA");
  auto set = client_set(next);
  set.ca_pem = project_ca().cert_pem + next.cert_pem;
  CHECK(validate_offline(set, policy(), kNow));
}

TEST_CASE("malformed PEM is refused and the error names the file and the source") {
  for (const std::string name : {"service.cert", "service.key", "ca.pem"}) {
    auto set = client_set(project_ca());
    std::string& field = name == "service.cert"  ? set.cert_pem
                         : name == "service.key" ? static_cast<std::string&>(set.key_pem)
                                                 : set.ca_pem;
    field = "-----BEGIN CERTIFICATE-----\nnot base64 @@\n-----END CERTIFICATE-----\n";
    auto r = validate_offline(set, policy(), kNow);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Invalid);
    CHECK_THAT(r.error().message,
               Catch::StartsWith(name) && Catch::Contains("GET /v1/project/p/service/s/user/app"));
  }
}

TEST_CASE("a key that does not match the certificate is refused without quoting the key") {
  auto set = client_set(project_ca());
  set.key_pem = emulator::new_key_pem();
  auto r = validate_offline(set, policy(), kNow);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("does not match service.cert"));
  CHECK_THAT(r.error().message, !Catch::Contains("PRIVATE KEY"));
}

TEST_CASE("a certificate signed by another CA is refused and the error names both issuers") {
  auto set = client_set(make_ca("Other CA"));
  auto r = validate_offline(set, policy(), kNow);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message,
             Catch::Contains("\"CN=Other CA\"") && Catch::Contains("\"CN=Project CA\""));
}

TEST_CASE("validity: expired, not yet valid, within the skew, and the minimum remaining") {
  auto expired =
      client_set(project_ca(), {"app", "", false, false, true, kNow - 30 * 24h, kNow - 1h});
  CHECK_THAT(validate_offline(expired, policy(), kNow).error().message,
             Catch::Contains("expired on"));

  auto future =
      client_set(project_ca(), {"app", "", false, false, true, kNow + 1h, kNow + 800 * 24h});
  CHECK_THAT(validate_offline(future, policy(), kNow).error().message,
             Catch::Contains("not valid until"));

  auto skewed =
      client_set(project_ca(), {"app", "", false, false, true, kNow + 2min, kNow + 800 * 24h});
  CHECK(validate_offline(skewed, policy(), kNow));

  auto short_lived =
      client_set(project_ca(), {"app", "", false, false, true, kNow - 1h, kNow + 2h});
  CHECK_THAT(validate_offline(short_lived, policy(), kNow).error().message,
             Catch::Contains("(less than the minimum remaining 24h)"));
  CHECK(validate_offline(short_lived, {300s, 1h}, kNow));
}

TEST_CASE("an extended key usage without clientAuth is refused but no extension is accepted") {
  auto server_only =
      client_set(project_ca(), {"app", "", false, true, false, kNow - 1h, kNow + 800 * 24h});
  CHECK_THAT(validate_offline(server_only, policy(), kNow).error().message,
             Catch::Contains("does not allow TLS client authentication"));
  auto no_eku =
      client_set(project_ca(), {"app", "", false, false, false, kNow - 1h, kNow + 800 * 24h});
  CHECK(validate_offline(no_eku, policy(), kNow));
}

TEST_CASE("an encrypted private key is refused with a clear reason") {
  auto key = test_pki::ec_key();
  auto set = client_set(project_ca());
  set.cert_pem =
      test_pki::sign_client_cert(key.get(), "app", project_ca(), kNow - 1h, kNow + 800 * 24h);
  set.key_pem = test_pki::encrypted_pkcs8_pem(key.get());
  auto r = validate_offline(set, policy(), kNow);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::StartsWith("service.key from GET ") &&
                                    Catch::Contains("encrypted keys are not supported"));
}

TEST_CASE("an RSA key in PKCS#1 form is accepted") {
  auto key = test_pki::rsa_key();
  auto set = client_set(project_ca());
  set.cert_pem =
      test_pki::sign_client_cert(key.get(), "app", project_ca(), kNow - 1h, kNow + 800 * 24h);
  set.key_pem = test_pki::traditional_pem(key.get());
  REQUIRE_THAT(set.key_pem, Catch::StartsWith("-----BEGIN RSA PRIVATE KEY-----"));
  auto info = validate_offline(set, policy(), kNow);
  REQUIRE(info);
  CHECK(info->subject == "CN=app");
}

TEST_CASE("an intermediate CA sent after the leaf completes the chain to the project CA") {
  auto issued = emulator::issue(
      {"Intermediate CA", "", true, false, false, kNow - 1h, kNow + 900 * 24h}, &project_ca());
  const Authority intermediate{issued.cert_pem, issued.key_pem};
  auto set = client_set(intermediate);
  CHECK_FALSE(validate_offline(set, policy(), kNow));
  set.cert_pem += intermediate.cert_pem;
  auto info = validate_offline(set, policy(), kNow);
  REQUIRE(info);
  CHECK(info->issuer == "CN=Intermediate CA");
}

TEST_CASE("a certificate from another CA that bears the project CA's name is refused") {
  auto set = client_set(make_ca("Project CA"));
  auto r = validate_offline(set, policy(), kNow);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Invalid);
  CHECK_THAT(r.error().message, Catch::StartsWith("service.cert (subject \"CN=app,OU=kafka\")") &&
                                    Catch::Contains("another CA with the same name"));
}

TEST_CASE("time checks use the given now, and messages give the dates") {
  auto set = client_set(project_ca());
  auto info = validate_offline(set, policy(), kNow);
  REQUIRE(info);
  auto r = validate_offline(set, policy(), info->not_after + 1s);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("expired on " + format_time(info->not_after)));
  r = validate_offline(set, {300s, 90min}, info->not_after - 1h);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("expires on " + format_time(info->not_after) +
                                                " (less than the minimum remaining 90m)"));
  r = validate_offline(set, policy(), info->not_before - 301s);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message,
             Catch::Contains("not valid until " + format_time(info->not_before)));
  CHECK(validate_offline(set, policy(), info->not_before - 299s));
}

TEST_CASE("no error message quotes the private key") {
  auto good = client_set(project_ca());
  std::vector<CredentialSet> bad;
  auto add = [&](auto change) {
    auto set = good;
    change(set);
    bad.push_back(set);
  };
  add([](CredentialSet& s) { s.key_pem = emulator::new_key_pem(); });
  add([](CredentialSet& s) { s.key_pem.insert(s.key_pem.find('\n') + 5, "!!"); });
  add([](CredentialSet& s) { s.key_pem = s.key_pem.substr(0, s.key_pem.size() / 2); });
  add([](CredentialSet& s) { s.cert_pem = s.key_pem; });
  add([](CredentialSet& s) { s.ca_pem = s.key_pem; });
  add([](CredentialSet& s) { s.ca_pem = make_ca("Other CA").cert_pem; });
  for (const auto& set : bad) {
    auto r = validate_offline(set, policy(), kNow);
    REQUIRE_FALSE(r);
    INFO(r.error().message);
    CHECK_THAT(r.error().message, !Catch::Contains("PRIVATE KEY"));
    std::size_t start = good.key_pem.find('\n') + 1;
    while (start < good.key_pem.size()) {
      const std::size_t end = good.key_pem.find('\n', start);
      const std::string line = good.key_pem.substr(start, end - start);
      if (line.find("-----") == std::string::npos)
        CHECK_THAT(r.error().message, !Catch::Contains(line));
      start = end + 1;
    }
  }
}
