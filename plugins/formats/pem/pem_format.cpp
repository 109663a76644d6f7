#include "formats/pem/pem_format.hpp"

namespace certswap::plugins {
namespace {

std::string with_newline(const std::string& pem) {
  return pem.empty() || pem.back() == '\n' ? pem : pem + "\n";
}

}  // namespace

Result<std::vector<StoredFile>> PemFormat::render(const CredentialSet& set) const {
  return std::vector<StoredFile>{
      {kCert, with_newline(set.cert_pem), false},
      {kKey, with_newline(set.key_pem), true},
      {kCa, with_newline(set.ca_pem), false},
      {kBundle, with_newline(set.key_pem) + with_newline(set.cert_pem), true},
  };
}

Result<CredentialSet> PemFormat::read_back(const std::map<std::string, std::string>& files) const {
  CredentialSet set;
  for (auto [name, field] : {std::pair<const char*, std::string*>{kCert, &set.cert_pem},
                             {kKey, &set.key_pem},
                             {kCa, &set.ca_pem}}) {
    auto it = files.find(name);
    if (it == files.end()) return fail(ErrorKind::Invalid, "the live set has no {}", name);
    *field = it->second;
  }
  set.origin = "the live directory";
  return set;
}

bool PemFormat::holds(const std::map<std::string, std::string>& files,
                      const CredentialSet& set) const {
  auto wanted = render(set);
  if (!wanted) return false;
  for (const auto& file : *wanted) {
    auto it = files.find(file.name);
    if (it == files.end() || it->second != file.content) return false;
  }
  return true;
}

}  // namespace certswap::plugins
