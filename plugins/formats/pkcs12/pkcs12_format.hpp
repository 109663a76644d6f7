#pragma once
#include <filesystem>

#include "certswap/format.hpp"
#include "certswap/secret_string.hpp"

namespace certswap::plugins {

// For JVM clients: everything the pem format writes, plus
// client.keystore.p12 (key + certificate chain, alias "service") and
// client.truststore.p12 (the project CA bundle as trusted entries). The
// password comes from a file, so it stays the same across renewals and the
// apps' configuration never changes.
//
// With `avn_truststore`, the truststore is also published as
// client.truststore.jks, the name `avn service user-kafka-java-creds` uses and
// its client.properties names with ssl.truststore.type=JKS. The content is
// the same PKCS#12 file: since JDK 9 a "JKS" KeyStore loads PKCS#12 too
// (keystore.type.compat, on by default), so such apps need no change.
class Pkcs12Format final : public Format {
 public:
  static constexpr const char* kKeystore = "client.keystore.p12";
  static constexpr const char* kTruststore = "client.truststore.p12";
  static constexpr const char* kAvnTruststore = "client.truststore.jks";

  Pkcs12Format(std::filesystem::path password_file, bool legacy, bool avn_truststore);
  Result<std::vector<StoredFile>> render(const CredentialSet& set) const override;
  std::vector<std::string> file_names() const override;
  Result<CredentialSet> read_back(const std::map<std::string, std::string>& files) const override;
  // PKCS#12 files carry a random salt, so they are compared by what they
  // hold: they open with today's password, use today's algorithms, and the
  // keystore holds the set's certificate.
  bool holds(const std::map<std::string, std::string>& files,
             const CredentialSet& set) const override;

 private:
  Result<SecretString> password() const;

  std::filesystem::path password_file_;
  bool legacy_;  // PBE-SHA1-3DES + SHA-1 MAC, for JVMs older than 8u301 / 11.0.12
  bool avn_truststore_;
};

}  // namespace certswap::plugins
