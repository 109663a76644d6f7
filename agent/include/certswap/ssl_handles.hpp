#pragma once
// RAII for the OpenSSL objects certswap uses: one deleter each.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>
#include <string_view>

namespace certswap {

template <auto Fn>
struct OpenSslDeleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;

struct StackOfX509Deleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using StackOfX509Ptr = std::unique_ptr<STACK_OF(X509), StackOfX509Deleter>;

BioPtr memory_bio(std::string_view data);

// Drains OpenSSL's thread-local error queue into one line.
std::string openssl_error_string();

}  // namespace certswap
