#include "certswap/pem.hpp"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <optional>

namespace certswap {
namespace {

// The two shapes an encrypted key takes in PEM: PKCS#8 says so in its label,
// PKCS#1/SEC1 in a "Proc-Type: 4,ENCRYPTED" header. Matching the markers, not
// the bare word, keeps base64 text from ever triggering this by chance.
bool is_encrypted_key(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

struct OpenSslFree {
  void operator()(char* p) const { OPENSSL_free(p); }
};
struct OpenSslClearFree {
  long size = 0;
  void operator()(unsigned char* p) const { OPENSSL_clear_free(p, static_cast<size_t>(size)); }
};

// One PEM block as PEM_read_bio hands it out; the DER body is key material,
// so it is wiped when freed.
struct PemBlock {
  std::unique_ptr<char, OpenSslFree> name;
  std::unique_ptr<char, OpenSslFree> header;
  std::unique_ptr<unsigned char, OpenSslClearFree> der;
  long size = 0;
};

std::optional<PemBlock> read_pem_block(std::string_view pem) {
  auto bio = memory_bio(pem);
  if (!bio) return std::nullopt;
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long size = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &der, &size) != 1) return std::nullopt;
  PemBlock block;
  block.name.reset(name);
  block.header.reset(header);
  block.der = std::unique_ptr<unsigned char, OpenSslClearFree>(der, OpenSslClearFree{size});
  block.size = size;
  return block;
}

// OpenSSL 3.0's PEM_read_bio_PrivateKey tries its decoders one after another
// until one fits: about 350 us for an RSA-3072 key, three times what a decoder
// told the structure and key type takes, and every check reads the live key
// and a rotation the offered one too. The PEM label says the structure; PKCS#8 names the algorithm
// by OID, which the decoders accept as a key type. Anything else (or a failure) is left to the
// generic reader, which also words the error.
EvpPkeyPtr decode_key_directly(std::string_view pem) {
  auto block = read_pem_block(pem);
  if (!block) return nullptr;
  const std::string_view label = block->name.get();
  const char* structure = nullptr;
  std::array<char, 80> key_type{};
  if (label == "PRIVATE KEY") {
    structure = "PrivateKeyInfo";
    const unsigned char* p = block->der.get();
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, OpenSslDeleter<PKCS8_PRIV_KEY_INFO_free>> info(
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, block->size));
    const ASN1_OBJECT* algorithm = nullptr;
    if (!info || PKCS8_pkey_get0(&algorithm, nullptr, nullptr, nullptr, info.get()) != 1 ||
        OBJ_obj2txt(key_type.data(), key_type.size(), algorithm, 1) <= 0)
      return nullptr;
  } else if (label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY") {
    structure = "type-specific";
    label.substr(0, label.find(' ')).copy(key_type.data(), key_type.size() - 1);
  } else {
    return nullptr;
  }
  EVP_PKEY* key = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, OpenSslDeleter<OSSL_DECODER_CTX_free>> decoder(
      OSSL_DECODER_CTX_new_for_pkey(&key, "DER", structure, key_type.data(), EVP_PKEY_KEYPAIR,
                                    nullptr, nullptr));
  if (!decoder) return nullptr;
  const unsigned char* data = block->der.get();
  size_t left = static_cast<size_t>(block->size);
  if (OSSL_DECODER_from_data(decoder.get(), &data, &left) != 1) return nullptr;
  return EvpPkeyPtr(key);
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
  if (auto key = decode_key_directly(pem)) {
    ERR_clear_error();
    return key;
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
