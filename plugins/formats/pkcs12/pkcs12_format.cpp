#include "formats/pkcs12/pkcs12_format.hpp"

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "certswap/durable_file.hpp"
#include "certswap/pem.hpp"
#include "formats/pem/pem_format.hpp"

namespace certswap::plugins {
namespace {

struct Pkcs12Deleter {
  void operator()(PKCS12* p) const { PKCS12_free(p); }
};
struct BagsDeleter {
  void operator()(STACK_OF(PKCS12_SAFEBAG) * s) const {
    sk_PKCS12_SAFEBAG_pop_free(s, PKCS12_SAFEBAG_free);
  }
};
struct SafesDeleter {
  void operator()(STACK_OF(PKCS7) * s) const { sk_PKCS7_pop_free(s, PKCS7_free); }
};
struct AsnObjectDeleter {
  void operator()(ASN1_OBJECT* o) const { ASN1_OBJECT_free(o); }
};
using Pkcs12Ptr = std::unique_ptr<PKCS12, Pkcs12Deleter>;
using BagsPtr = std::unique_ptr<STACK_OF(PKCS12_SAFEBAG), BagsDeleter>;
using SafesPtr = std::unique_ptr<STACK_OF(PKCS7), SafesDeleter>;

// Java only loads certificate entries that carry Oracle's "trusted key
// usage" bag attribute (what `openssl pkcs12 -jdktrust` adds in 3.2+).
constexpr const char* kJavaTrustedKeyUsage = "2.16.840.1.113894.746875.1.1";
constexpr const char* kAnyExtendedKeyUsage = "2.5.29.37.0";
constexpr int kIterations = 10000;

Result<std::string> to_der(PKCS12* p12, const char* what) {
  const int len = i2d_PKCS12(p12, nullptr);
  if (len <= 0)
    return fail(ErrorKind::Internal, "pkcs12 format: cannot encode {}: {}", what,
                openssl_error_string());
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_PKCS12(p12, &out);
  return der;
}

}  // namespace

Pkcs12Format::Pkcs12Format(std::filesystem::path password_file, bool legacy, bool avn_truststore)
    : password_file_(std::move(password_file)), legacy_(legacy), avn_truststore_(avn_truststore) {}

std::vector<std::string> Pkcs12Format::file_names() const {
  auto names = PemFormat().file_names();
  names.emplace_back(kKeystore);
  names.emplace_back(kTruststore);
  if (avn_truststore_) names.emplace_back(kAvnTruststore);
  return names;
}

Result<CredentialSet> Pkcs12Format::read_back(
    const std::map<std::string, std::string>& files) const {
  return PemFormat().read_back(files);
}

Result<SecretString> Pkcs12Format::password() const {
  if (password_file_.empty()) {
    return fail(ErrorKind::Usage,
                "pkcs12 format: no password file (pkcs12_password_file / --pkcs12-password-file)");
  }
  auto password_text = read_file(password_file_);
  if (!password_text) {
    return fail(ErrorKind::Usage, "pkcs12 format: cannot read the password file: {}",
                password_text.error().message);
  }
  SecretString password = std::move(*password_text);
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
    password.pop_back();
  if (password.empty())
    return fail(ErrorKind::Usage, "pkcs12 format: the password file {} is empty",
                password_file_.string());
  return password;
}

bool Pkcs12Format::holds(const std::map<std::string, std::string>& files,
                         const CredentialSet& set) const {
  if (!PemFormat().holds(files, set)) return false;
  auto password_text = this->password();
  if (!password_text) return false;
  const SecretString password = std::move(*password_text);
  const int mac_nid = EVP_MD_get_type(legacy_ ? EVP_sha1() : EVP_sha256());
  auto open = [&](const char* name) -> Pkcs12Ptr {
    auto it = files.find(name);
    if (it == files.end()) return nullptr;
    const auto* der = reinterpret_cast<const unsigned char*>(it->second.data());
    Pkcs12Ptr p12(d2i_PKCS12(nullptr, &der, static_cast<long>(it->second.size())));
    if (!p12 || PKCS12_verify_mac(p12.get(), password.c_str(), -1) != 1) {
      ERR_clear_error();  // a wrong password is an answer here, not an error for later
      return nullptr;
    }
    const X509_ALGOR* mac_algorithm = nullptr;
    PKCS12_get0_mac(nullptr, &mac_algorithm, nullptr, nullptr, p12.get());
    const ASN1_OBJECT* mac_object = nullptr;
    if (mac_algorithm) X509_ALGOR_get0(&mac_object, nullptr, nullptr, mac_algorithm);
    if (!mac_object || OBJ_obj2nid(mac_object) != mac_nid) return nullptr;
    return p12;
  };
  auto keystore = open(kKeystore);
  if (!keystore || !open(kTruststore)) return false;
  if (avn_truststore_) {
    // What avn wrote there (a real JKS, or its own PKCS#12) is not ours:
    // only a copy of our truststore counts as published.
    auto ours = files.find(kTruststore);
    auto avn = files.find(kAvnTruststore);
    if (avn == files.end() || avn->second != ours->second) return false;
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  if (PKCS12_parse(keystore.get(), password.c_str(), &raw_key, &raw_cert, nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  EvpPkeyPtr key(raw_key);
  X509Ptr cert(raw_cert);
  auto chain = parse_certificates(set.cert_pem, "service.cert");
  return chain && cert && key && X509_cmp(cert.get(), chain->front().get()) == 0 &&
         X509_check_private_key(cert.get(), key.get()) == 1;
}

Result<std::vector<StoredFile>> Pkcs12Format::render(const CredentialSet& set) const {
  auto files = PemFormat().render(set);
  if (!files) return files;
  auto password_text = this->password();
  if (!password_text) return std::unexpected(password_text.error());
  const SecretString password = std::move(*password_text);

  auto chain = parse_certificates(set.cert_pem, "service.cert");
  if (!chain) return std::unexpected(chain.error());
  auto cas = parse_certificates(set.ca_pem, "ca.pem");
  if (!cas) return std::unexpected(cas.error());
  auto key = parse_private_key(set.key_pem, "service.key");
  if (!key) return std::unexpected(key.error());

  const int pbe = legacy_ ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
  const EVP_MD* mac = legacy_ ? EVP_sha1() : EVP_sha256();

  StackOfX509Ptr extra(sk_X509_new_null());
  for (std::size_t i = 1; i < chain->size(); ++i) sk_X509_push(extra.get(), (*chain)[i].get());
  for (const auto& ca : *cas) sk_X509_push(extra.get(), ca.get());
  Pkcs12Ptr keystore(PKCS12_create(password.c_str(), "service", key->get(), chain->front().get(),
                                   extra.get(), pbe, pbe, kIterations, -1, 0));
  // The stack only borrowed the certificates.
  while (sk_X509_num(extra.get()) > 0) sk_X509_pop(extra.get());
  if (!keystore ||
      PKCS12_set_mac(keystore.get(), password.c_str(), -1, nullptr, 0, kIterations, mac) != 1) {
    return fail(ErrorKind::Internal, "pkcs12 format: cannot build {}: {}", kKeystore,
                openssl_error_string());
  }

  STACK_OF(PKCS12_SAFEBAG)* raw_bags = nullptr;
  std::unique_ptr<ASN1_OBJECT, AsnObjectDeleter> any_eku(OBJ_txt2obj(kAnyExtendedKeyUsage, 1));
  int index = 0;
  for (const auto& ca : *cas) {
    PKCS12_SAFEBAG* bag = PKCS12_add_cert(&raw_bags, ca.get());
    const std::string alias = "ca-" + std::to_string(index++);
    if (!bag || PKCS12_add_friendlyname_asc(bag, alias.c_str(), -1) != 1 ||
        PKCS12_add1_attr_by_txt(bag, kJavaTrustedKeyUsage, V_ASN1_OBJECT,
                                reinterpret_cast<const unsigned char*>(any_eku.get()), -1) != 1) {
      BagsPtr cleanup(raw_bags);
      return fail(ErrorKind::Internal, "pkcs12 format: cannot build {}: {}", kTruststore,
                  openssl_error_string());
    }
  }
  BagsPtr bags(raw_bags);
  STACK_OF(PKCS7)* raw_safes = nullptr;
  if (!PKCS12_add_safe(&raw_safes, bags.get(), pbe, kIterations, password.c_str())) {
    SafesPtr cleanup(raw_safes);
    return fail(ErrorKind::Internal, "pkcs12 format: cannot build {}: {}", kTruststore,
                openssl_error_string());
  }
  SafesPtr safes(raw_safes);
  Pkcs12Ptr truststore(PKCS12_add_safes(safes.get(), 0));
  if (!truststore ||
      PKCS12_set_mac(truststore.get(), password.c_str(), -1, nullptr, 0, kIterations, mac) != 1) {
    return fail(ErrorKind::Internal, "pkcs12 format: cannot build {}: {}", kTruststore,
                openssl_error_string());
  }

  auto keystore_der = to_der(keystore.get(), kKeystore);
  if (!keystore_der) return std::unexpected(keystore_der.error());
  auto truststore_der = to_der(truststore.get(), kTruststore);
  if (!truststore_der) return std::unexpected(truststore_der.error());
  files->push_back({kKeystore, std::move(*keystore_der), true});
  if (avn_truststore_) files->push_back({kAvnTruststore, *truststore_der, false});
  files->push_back({kTruststore, std::move(*truststore_der), false});
  return files;
}

}  // namespace certswap::plugins
