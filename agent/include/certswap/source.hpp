#pragma once
// Where credential sets come from (plugins/sources/*): the Aiven API, an inbox
// directory, ... The pipeline only sees this interface.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "certswap/credential.hpp"
#include "certswap/error.hpp"

namespace certswap {

struct Fetched {
  CredentialSet set;
  bool renewal_pending = false;  // upstream waits for an acknowledgement of this set
  // While a renewal is pending: the end of the certificate it renews.
  std::optional<std::string> renews_not_after;
  bool empty = false;  // nothing on offer (an empty inbox): the live set stays
};

class Source {
 public:
  virtual ~Source() = default;
  virtual Result<Fetched> fetch() = 0;
  // Asks upstream for a brand-new pair (Aiven reset-credentials), once: the
  // caller then fetch()es it. The answer's own pair, when the source has one
  // (`empty` otherwise), is for keeping at once in case that fetch fails.
  virtual Result<Fetched> reset_credentials() = 0;
  // Broker address for the live validation.
  virtual Result<std::string> bootstrap() = 0;
  virtual bool can_acknowledge() const = 0;
  virtual Result<void> acknowledge() = 0;
  // The fetched set is live (or was already): a drop-off source may clear it.
  virtual Result<void> consumed() { return {}; }
  // The longest fetch(), bootstrap() and acknowledge() of one check may wait
  // on upstream together, every retry included: part of the sidecar's bound
  // of a check (daemon.hpp). Zero for a source that asks nobody.
  virtual std::chrono::milliseconds upstream_bound() const { return {}; }
  // A directory whose changes should trigger a check at once (the daemon watches it).
  virtual std::optional<std::filesystem::path> watch_dir() const { return std::nullopt; }
};

}  // namespace certswap
