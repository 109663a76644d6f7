#pragma once
#include "certswap/format.hpp"

namespace certswap::plugins {

// The names `avn service user-creds-download` writes, so existing app configs
// keep working, plus bundle.pem (key + chain) for readers that must read once.
class PemFormat final : public Format {
 public:
  static constexpr const char* kCert = "service.cert";
  static constexpr const char* kKey = "service.key";
  static constexpr const char* kCa = "ca.pem";
  static constexpr const char* kBundle = "bundle.pem";

  Result<std::vector<StoredFile>> render(const CredentialSet& set) const override;
  std::vector<std::string> file_names() const override { return {kCert, kKey, kCa, kBundle}; }
  Result<CredentialSet> read_back(const std::map<std::string, std::string>& files) const override;
  bool holds(const std::map<std::string, std::string>& files,
             const CredentialSet& set) const override;
};

}  // namespace certswap::plugins
