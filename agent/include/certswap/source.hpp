#pragma once
// Where credential sets come from (plugins/sources/*): the Aiven API, an inbox
// directory, ... The pipeline only sees this interface.
#include <string>

#include "certswap/credential.hpp"
#include "certswap/error.hpp"

namespace certswap {

struct Fetched {
  CredentialSet set;
  bool renewal_pending = false;  // upstream waits for an acknowledgement of this set
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Result<Fetched> fetch() = 0;
  // Asks upstream for a brand-new pair (Aiven reset-credentials).
  virtual Result<Fetched> reset_credentials() = 0;
  // Broker address for the live validation.
  virtual Result<std::string> bootstrap() = 0;
  virtual bool can_acknowledge() const = 0;
  virtual Result<void> acknowledge() = 0;
};

}  // namespace certswap
