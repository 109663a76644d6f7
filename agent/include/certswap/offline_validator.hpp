#pragma once
// The cheap checks, before any network: parse, key matches certificate,
// chain to the project CA bundle, validity window, clientAuth.
#include <chrono>

#include "certswap/cert_info.hpp"
#include "certswap/credential.hpp"

namespace certswap {

struct OfflinePolicy {
  std::chrono::seconds clock_skew{300};
  std::chrono::seconds min_remaining{std::chrono::hours(24)};
};

Result<CertInfo> validate_offline(const CredentialSet& set, const OfflinePolicy& policy,
                                  std::chrono::system_clock::time_point now);

}  // namespace certswap
