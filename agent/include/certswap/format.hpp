#pragma once
// How a credential set is laid out on disk for the apps (plugins/formats/*).
#include <map>
#include <string>
#include <vector>

#include "certswap/atomic_store.hpp"
#include "certswap/credential.hpp"
#include "certswap/error.hpp"

namespace certswap {

class Format {
 public:
  virtual ~Format() = default;
  virtual Result<std::vector<StoredFile>> render(const CredentialSet& set) const = 0;
  // The public names this format publishes (for link repair).
  virtual std::vector<std::string> file_names() const = 0;
  // Recovers the set from live files (for init, status and repair).
  virtual Result<CredentialSet> read_back(
      const std::map<std::string, std::string>& files) const = 0;
  // Whether `files` (the live files, as read_live gives them) are what render(set)
  // would publish under this configuration: every name there, the same content.
  // A changed format, pkcs12 password or algorithm makes it false, so that a
  // set which is current upstream is still re-rendered when the config changed.
  virtual bool holds(const std::map<std::string, std::string>& files,
                     const CredentialSet& set) const = 0;
};

}  // namespace certswap
