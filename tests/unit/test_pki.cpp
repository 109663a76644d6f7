#include "test_pki.hpp"

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace test_pki {
namespace {

// Not a secret: it only proves that an encrypted key is refused.
constexpr char kPassphrase[] = "correct horse battery staple";

template <class Write>
std::string write_pem(Write write) {
  certswap::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) throw std::runtime_error("PEM encoding failed");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, certswap::OpenSslDeleter<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throw std::runtime_error("bad extension");
}

}  // namespace

certswap::EvpPkeyPtr rsa_key() {
  certswap::EvpPkeyPtr key(EVP_RSA_gen(2048));
  if (!key) throw std::runtime_error("RSA key generation failed");
  return key;
}

certswap::EvpPkeyPtr ec_key() {
  certswap::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EC key generation failed");
  return key;
}

std::string pkcs8_pem(EVP_PKEY* key) {
  return write_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string traditional_pem(EVP_PKEY* key) {
  return write_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey_traditional(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

std::string encrypted_pkcs8_pem(EVP_PKEY* key) {
  return write_pem([&](BIO* bio) {
    return PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), kPassphrase,
                                         sizeof kPassphrase - 1, nullptr, nullptr);
  });
}

std::string encrypted_traditional_pem(EVP_PKEY* key) {
  return write_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey_traditional(bio, key, EVP_aes_256_cbc(),
                                                reinterpret_cast<const unsigned char*>(kPassphrase),
                                                sizeof kPassphrase - 1, nullptr, nullptr);
  });
}

std::string sign_client_cert(EVP_PKEY* key, const std::string& common_name,
                             const emulator::Authority& ca,
                             std::chrono::system_clock::time_point not_before,
                             std::chrono::system_clock::time_point not_after) {
  auto ca_cert_bio = certswap::memory_bio(ca.cert_pem);
  certswap::X509Ptr ca_cert(PEM_read_bio_X509(ca_cert_bio.get(), nullptr, nullptr, nullptr));
  auto ca_key_bio = certswap::memory_bio(ca.key_pem);
  certswap::EvpPkeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) throw std::runtime_error("cannot read the CA");

  certswap::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()),
                         std::chrono::system_clock::now().time_since_epoch().count());
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(not_after));
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "clientAuth");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("signing failed");
  }
  return write_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
}

}  // namespace test_pki
