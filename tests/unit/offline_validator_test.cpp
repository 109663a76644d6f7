#include "certswap/offline_validator.hpp"

#include <openssl/x509.h>

#include <catch2/catch.hpp>

#include "certswap/cert_info.hpp"
#include "certswap/pem.hpp"
#include "pki.hpp"

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
  for (auto [field, name] : {std::pair{&CredentialSet::cert_pem, "service.cert"},
                             std::pair{&CredentialSet::key_pem, "service.key"},
                             std::pair{&CredentialSet::ca_pem, "ca.pem"}}) {
    auto set = client_set(project_ca());
    set.*field = "-----BEGIN CERTIFICATE-----\nnot base64 @@\n-----END CERTIFICATE-----\n";
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
             Catch::Contains("less than the required 24h"));
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
  auto set = client_set(project_ca());
  set.key_pem =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
  CHECK_THAT(validate_offline(set, policy(), kNow).error().message, Catch::Contains("encrypted"));
}

TEST_CASE("ISO 8601 times from the API parse with Z, fractions and offsets") {
  auto base = parse_iso8601("2029-02-21T10:00:00Z");
  REQUIRE(base);
  CHECK(format_time(*base) == "2029-02-21T10:00:00Z");
  CHECK(parse_iso8601("2029-02-21T10:00:00.123456Z").value() == *base);
  CHECK(parse_iso8601("2029-02-21T12:00:00+02:00").value() == *base);
  CHECK(parse_iso8601("2029-02-21T10:00:00").value() == *base);
  CHECK_FALSE(parse_iso8601("yesterday"));
  CHECK_FALSE(parse_iso8601("2029-02-21"));
}
