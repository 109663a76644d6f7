#include "certswap/pem.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace certswap {
namespace {

// The two shapes an encrypted key takes in PEM: PKCS#8 says so in its label,
// PKCS#1/SEC1 in a "Proc-Type: 4,ENCRYPTED" header. Matching the markers, not
// the bare word, keeps base64 text from ever triggering this by chance.
bool is_encrypted_key(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

}  // namespace

Result<std::vector<X509Ptr>> parse_certificates(std::string_view pem, std::string_view what) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  if (!bio) return fail(ErrorKind::Internal, "{}: out of memory reading PEM", what);
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
  if (is_encrypted_key(pem)) {
    return fail(ErrorKind::Invalid,
                "{}: the private key is encrypted, and encrypted keys are not supported; "
                "provide the key unencrypted (PKCS#8 or PKCS#1)",
                what);
  }
  ERR_clear_error();
  auto bio = memory_bio(pem);
  if (!bio) return fail(ErrorKind::Internal, "{}: out of memory reading PEM", what);
  // A callback that yields no passphrase makes OpenSSL fail instead of prompting on a tty.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    // OpenSSL's reasons are codes like "DECODER routines::unsupported": never key bytes.
    const std::string detail = openssl_error_string();
    return fail(ErrorKind::Invalid, "{}: no readable PEM private key ({})", what, detail);
  }
  // The decoder tries several formats before one fits and may leave their
  // failures queued; they must not surface in the next caller's error.
  ERR_clear_error();
  return key;
}

}  // namespace certswap
