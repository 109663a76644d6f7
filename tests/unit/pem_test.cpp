#include "certswap/pem.hpp"

#include <openssl/err.h>

#include <catch2/catch.hpp>

#include "pki.hpp"
#include "test_pki.hpp"

using namespace certswap;
using namespace std::chrono_literals;

namespace {

const auto kNow = std::chrono::system_clock::now();

emulator::Issued issue(const std::string& cn, bool is_ca = false) {
  return emulator::issue({cn, "", is_ca, false, !is_ca, kNow - 1h, kNow + 24h}, nullptr);
}

// Every base64 line of a PEM text: what must never reach an error message.
std::vector<std::string> body_lines(const std::string& pem) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < pem.size()) {
    std::size_t end = pem.find('\n', start);
    if (end == std::string::npos) end = pem.size();
    const std::string line = pem.substr(start, end - start);
    if (!line.empty() && line.find("-----") == std::string::npos &&
        line.find(':') == std::string::npos) {
      lines.push_back(line);
    }
    start = end + 1;
  }
  return lines;
}

void require_no_key_material(const std::string& message, const std::string& key_pem) {
  CHECK_THAT(message, !Catch::Contains("PRIVATE KEY"));
  for (const auto& line : body_lines(key_pem)) CHECK_THAT(message, !Catch::Contains(line));
}

}  // namespace

TEST_CASE("every certificate of a PEM bundle is read, in order") {
  const auto first = issue("first CA", true);
  const auto second = issue("second CA", true);
  auto certs = parse_certificates(first.cert_pem + "\n" + second.cert_pem, "ca.pem");
  REQUIRE(certs);
  REQUIRE(certs->size() == 2);
  auto subject = [](X509* c) {
    char buf[128];
    X509_NAME_oneline(X509_get_subject_name(c), buf, sizeof buf);
    return std::string(buf);
  };
  CHECK(subject((*certs)[0].get()) == "/CN=first CA");
  CHECK(subject((*certs)[1].get()) == "/CN=second CA");
}

TEST_CASE("certificates are read from a bundle that also holds the private key") {
  const auto leaf = issue("app");
  auto certs = parse_certificates(leaf.key_pem + leaf.cert_pem, "bundle.pem");
  REQUIRE(certs);
  CHECK(certs->size() == 1);
}

TEST_CASE("text without a certificate is an Invalid error that starts with the caller's words") {
  const std::string what = "ca.pem from GET /v1/project/p/kms/ca";
  for (std::string_view text : {std::string_view{}, std::string_view{""},
                                std::string_view{"<html>502 Bad Gateway</html>"}}) {
    auto r = parse_certificates(text, what);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Invalid);
    CHECK(r.error().message == what + ": no PEM certificate found");
  }
}

TEST_CASE("a certificate block that does not decode is reported as malformed") {
  const auto good = issue("app");
  auto r = parse_certificates(
      good.cert_pem + "-----BEGIN CERTIFICATE-----\nMIIB!!!\n-----END CERTIFICATE-----\n",
      "service.cert");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Invalid);
  CHECK_THAT(r.error().message, Catch::StartsWith("service.cert: a PEM certificate block is "
                                                  "malformed"));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("private keys are read as PKCS#8, as PKCS#1 RSA and as SEC1 EC") {
  auto rsa = test_pki::rsa_key();
  auto ec = test_pki::ec_key();
  struct Case {
    std::string pem;
    EVP_PKEY* original;
    std::string label;
  };
  const Case cases[] = {
      {test_pki::pkcs8_pem(ec.get()), ec.get(), "BEGIN PRIVATE KEY"},
      {test_pki::pkcs8_pem(rsa.get()), rsa.get(), "BEGIN PRIVATE KEY"},
      {test_pki::traditional_pem(rsa.get()), rsa.get(), "BEGIN RSA PRIVATE KEY"},
      {test_pki::traditional_pem(ec.get()), ec.get(), "BEGIN EC PRIVATE KEY"},
  };
  for (const auto& c : cases) {
    INFO(c.label);
    REQUIRE_THAT(c.pem, Catch::Contains(c.label));
    auto key = parse_private_key(c.pem, "service.key");
    REQUIRE(key);
    CHECK(EVP_PKEY_eq(key->get(), c.original) == 1);
    CHECK(ERR_peek_error() == 0);
  }
}

// The reader goes by the PEM label and the PKCS#8 algorithm first; what it
// cannot place that way must still read as before.
TEST_CASE("an Ed25519 key and a key after a certificate in the same text are read") {
  EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  REQUIRE(ed);
  auto key = parse_private_key(test_pki::pkcs8_pem(ed.get()), "service.key");
  REQUIRE(key);
  CHECK(EVP_PKEY_eq(key->get(), ed.get()) == 1);

  auto rsa = test_pki::rsa_key();
  auto after_cert =
      parse_private_key(issue("app").cert_pem + test_pki::pkcs8_pem(rsa.get()), "service.key");
  REQUIRE(after_cert);
  CHECK(EVP_PKEY_eq(after_cert->get(), rsa.get()) == 1);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("encrypted keys are refused, PKCS#8 or legacy, saying that they are not supported") {
  auto key = test_pki::ec_key();
  for (const auto& pem :
       {test_pki::encrypted_pkcs8_pem(key.get()), test_pki::encrypted_traditional_pem(key.get())}) {
    auto r = parse_private_key(pem, "service.key from inbox /in");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::Invalid);
    CHECK_THAT(r.error().message, Catch::StartsWith("service.key from inbox /in: ") &&
                                      Catch::Contains("encrypted keys are not supported"));
    require_no_key_material(r.error().message, pem);
  }
}

TEST_CASE("an unreadable key is refused without quoting any of it") {
  auto key = test_pki::rsa_key();
  std::string pem = test_pki::pkcs8_pem(key.get());
  pem[pem.find('\n') + 10] = '!';  // corrupt the first base64 line
  auto r = parse_private_key(pem, "service.key");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Invalid);
  CHECK_THAT(r.error().message, Catch::StartsWith("service.key: no readable PEM private key"));
  require_no_key_material(r.error().message, pem);

  auto cert_only = parse_private_key(issue("app").cert_pem, "service.key");
  REQUIRE_FALSE(cert_only);
  CHECK_THAT(cert_only.error().message, Catch::Contains("no readable PEM private key"));
}
