#include "certswap/pem.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace certswap {

Result<std::vector<X509Ptr>> parse_certificates(std::string_view pem, std::string_view what) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading stops with "no start line" at the end of the text; anything
  // else means a block that started but did not parse.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = last == 0 || ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (!clean_end) {
    const std::string detail = openssl_error_string();
    return fail(ErrorKind::Invalid, "{}: a PEM certificate block is malformed ({})", what, detail);
  }
  ERR_clear_error();
  if (certs.empty()) return fail(ErrorKind::Invalid, "{}: no PEM certificate found", what);
  return certs;
}

Result<EvpPkeyPtr> parse_private_key(std::string_view pem, std::string_view what) {
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return fail(ErrorKind::Invalid,
                "{}: the private key is encrypted; certswap needs an unencrypted key", what);
  }
  ERR_clear_error();
  auto bio = memory_bio(pem);
  // An empty passphrase callback result makes OpenSSL fail instead of prompting on a tty.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    const std::string detail = openssl_error_string();
    return fail(ErrorKind::Invalid, "{}: no readable PEM private key ({})", what, detail);
  }
  return key;
}

}  // namespace certswap
