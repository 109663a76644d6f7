#include "pki.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <stdexcept>

namespace emulator {
namespace {

using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;

KeyPtr generate_key(KeyType type) {
  KeyPtr key(type == KeyType::Rsa3072 ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("key generation failed");
  return key;
}

std::string to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);  // PKCS#8
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

CertPtr load_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw std::runtime_error("cannot parse certificate PEM");
  return cert;
}

KeyPtr load_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::runtime_error("cannot parse key PEM");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext.get(), -1);
}

}  // namespace

Issued issue(const CertRequest& r, const Authority* signer) {
  KeyPtr key = generate_key(r.key_type);
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Free<BN_free>> serial(
      BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                std::chrono::system_clock::to_time_t(r.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(r.not_after));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  // DER order O, OU, CN: printed (RFC 2253) as CN=..,OU=..,O=.. like Aiven's.
  if (!r.organization.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(r.organization.c_str()), -1,
                               -1, 0);
  }
  if (!r.organizational_unit.empty()) {
    X509_NAME_add_entry_by_txt(
        name, "OU", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(r.organizational_unit.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(r.common_name.c_str()), -1, -1,
                             0);
  CertPtr signer_cert;
  KeyPtr signer_key;
  if (signer) {
    signer_cert = load_cert(signer->cert_pem);
    signer_key = load_key(signer->key_pem);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* issuer = signer ? signer_cert.get() : cert.get();
  if (r.is_ca) {
    add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    std::string eku;
    if (r.server) eku = "serverAuth";
    if (r.client) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    if (!eku.empty()) add_extension(cert.get(), issuer, NID_ext_key_usage, eku.c_str());
    if (r.server)
      add_extension(cert.get(), issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  // An RSA signer signs SHA384withRSA, as Aiven's project CA does.
  EVP_PKEY* signing_key = signer ? signer_key.get() : key.get();
  const EVP_MD* digest =
      EVP_PKEY_get_base_id(signing_key) == EVP_PKEY_RSA ? EVP_sha384() : EVP_sha256();
  if (X509_sign(cert.get(), signing_key, digest) == 0) {
    throw std::runtime_error("signing failed");
  }
  return {to_pem(cert.get()), to_pem(key.get())};
}

std::string fingerprint_sha256(const std::string& cert_pem) {
  CertPtr cert = load_cert(cert_pem);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &len);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xf];
  }
  return out;
}

std::chrono::system_clock::time_point not_after_of(const std::string& cert_pem) {
  CertPtr cert = load_cert(cert_pem);
  std::tm tm{};
  ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string new_key_pem(KeyType type) {
  return to_pem(generate_key(type).get());
}

}  // namespace emulator
