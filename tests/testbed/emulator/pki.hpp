#pragma once
// The emulator's certificate authority: real X.509 through OpenSSL 3.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace emulator {

template <auto Fn>
struct Free {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Free<X509_free>>;

struct Issued {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
};

// Aiven's service user certificates are RSA-3072 signed with SHA384withRSA
// (shared/aiven-api.md "Certificates"); EC P-256 stays for the test bed's own
// certificates and as a variant.
enum class KeyType { Rsa3072, EcP256 };

struct CertRequest {
  std::string common_name;
  std::string organizational_unit;
  bool is_ca = false;
  bool server = false;  // serverAuth + SAN 127.0.0.1/localhost
  bool client = false;  // clientAuth
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  KeyType key_type = KeyType::EcP256;
  std::string organization = {};  // O=, empty for none
};

// A CA held in memory, loaded from or saved to PEM.
struct Authority {
  std::string cert_pem;
  std::string key_pem;
};

Issued issue(const CertRequest& request, const Authority* signer);  // nullptr: self-signed
std::string fingerprint_sha256(const std::string& cert_pem);
std::chrono::system_clock::time_point not_after_of(const std::string& cert_pem);
std::string iso8601(std::chrono::system_clock::time_point t);
// A fresh key that belongs to no certificate.
std::string new_key_pem(KeyType type = KeyType::EcP256);

}  // namespace emulator
