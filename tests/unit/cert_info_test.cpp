#include "certswap/cert_info.hpp"

#include <openssl/bn.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>

#include "certswap/pem.hpp"
#include "pki.hpp"
#include "test_pki.hpp"

using namespace certswap;
using namespace std::chrono_literals;
using std::chrono::system_clock;

namespace {

system_clock::time_point at(std::string_view iso) {
  return parse_iso8601(iso).value();
}

}  // namespace

TEST_CASE("a certificate is described by RFC 2253 names, serial, fingerprint and validity") {
  const emulator::Authority ca = [] {
    auto issued = emulator::issue(
        {"proj CA", "", true, false, false, at("2026-01-01T00:00:00Z"), at("2036-01-01T00:00:00Z")},
        nullptr);
    return emulator::Authority{issued.cert_pem, issued.key_pem};
  }();
  const auto leaf = emulator::issue(
      {"app", "kafka", false, false, true, at("2026-11-24T10:00:00Z"), at("2029-02-21T10:00:00Z")},
      &ca);
  auto certs = parse_certificates(leaf.cert_pem, "service.cert");
  REQUIRE(certs);
  X509* cert = certs->front().get();

  const CertInfo info = describe(*cert);
  CHECK(info.subject == "CN=app,OU=kafka");
  CHECK(info.issuer == "CN=proj CA");
  CHECK(format_time(info.not_before) == "2026-11-24T10:00:00Z");
  CHECK(format_time(info.not_after) == "2029-02-21T10:00:00Z");
  CHECK(info.sha256_fingerprint == emulator::fingerprint_sha256(leaf.cert_pem));
  CHECK(info.sha256_fingerprint.size() == 64);

  using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
  BIGNUM* parsed = nullptr;
  REQUIRE(BN_hex2bn(&parsed, info.serial_hex.c_str()) > 0);
  const BignumPtr from_info(parsed);
  const BignumPtr from_cert(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  CHECK(BN_cmp(from_info.get(), from_cert.get()) == 0);
}

TEST_CASE("inspecting a PEM text describes its first certificate, and garbage is an error") {
  const auto now = system_clock::now();
  const auto a = emulator::issue({"first", "", false, false, true, now - 1h, now + 1h}, nullptr);
  const auto b = emulator::issue({"second", "", false, false, true, now - 1h, now + 1h}, nullptr);
  auto info = inspect_certificate_pem(a.cert_pem + b.cert_pem, "service.cert");
  REQUIRE(info);
  CHECK(info->subject == "CN=first");

  auto bad = inspect_certificate_pem("not a certificate", "access_cert from GET /user/app");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "access_cert from GET /user/app: no PEM certificate found");
}

TEST_CASE("sha256_hex is the lowercase hex SHA-256 of the bytes") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("times are formatted as ISO 8601 UTC to the second") {
  CHECK(format_time(system_clock::time_point{}) == "1970-01-01T00:00:00Z");
  CHECK(format_time(at("2026-11-24T10:00:00.999Z")) == "2026-11-24T10:00:00Z");
  CHECK(format_time(at("2040-02-29T23:59:59Z")) == "2040-02-29T23:59:59Z");
}

TEST_CASE("ISO 8601 times from the API parse with Z, fractions and offsets") {
  const auto base = at("2029-02-21T10:00:00Z");
  CHECK(base.time_since_epoch() == 1866362400s);
  CHECK(at("2029-02-21T10:00:00z") == base);
  CHECK(at("2029-02-21T10:00:00") == base);
  CHECK(at("2029-02-21 10:00:00Z") == base);
  CHECK(at("2029-02-21T10:00:00+00:00") == base);
  CHECK(at("2029-02-21T12:00:00+02:00") == base);
  CHECK(at("2029-02-21T12:00:00+0200") == base);
  CHECK(at("2029-02-21T12:00:00+02") == base);
  CHECK(at("2029-02-21T04:30:00-05:30") == base);
  CHECK(at("2029-02-21T10:00:00.5Z") == base + 500ms);
  CHECK(at("2029-02-21T10:00:00.123456Z") == base + 123456us);
  CHECK(at("2029-02-21T10:00:00.123456789123Z") == base + 123456789ns);
  CHECK(at("2029-02-21T10:00:00,25+00:00") == base + 250ms);
  CHECK(at("2028-02-29T00:00:00Z") == at("2028-02-28T00:00:00Z") + 24h);
}

TEST_CASE("text that is not a complete, in-range ISO 8601 time is refused, quoting it") {
  for (std::string_view text :
       {"", "yesterday", "2029-02-21", "2029-02-21T10:00", "29-02-21T10:00:00Z",
        "2029-2-21T10:00:00Z", "2029-13-01T00:00:00Z", "2029-02-29T00:00:00Z",
        "2029-02-21T24:00:00Z", "2029-02-21T10:60:00Z", "2029-02-21T10:00:00.Z",
        "2029-02-21T10:00:00+2:00", "2029-02-21T10:00:00+02:", "2029-02-21T10:00:00+24:00",
        "2029-02-21T10:00:00Zjunk", "2029-02-21T10:00:00 Z", "-029-02-21T10:00:00Z",
        "1014-02-23T09:55:12Z", "9999-12-31T23:59:59Z"}) {
    INFO(text);
    auto r = parse_iso8601(text);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains(fmt::format("\"{}\"", text)));
  }
}

TEST_CASE("a certificate that never expires (notAfter in 9999, RFC 5280) ends at the end of time") {
  auto key = test_pki::ec_key();
  X509Ptr cert(X509_new());
  REQUIRE(cert);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("forever"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  REQUIRE(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), "99991231235959Z") == 1);
  X509_set_pubkey(cert.get(), key.get());
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);

  const CertInfo info = describe(*cert);
  CHECK(info.not_after == system_clock::time_point::max());
  CHECK(info.not_before <= system_clock::now());
}
