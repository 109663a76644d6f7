#pragma once
// Whose set is this? Aiven names the service user in its client certificate's
// subject commonName (aiven-api.md "Certificates"), so a set whose CN is
// another user's is not the configured target's live set, however valid.
#include <optional>
#include <string>
#include <string_view>

#include "certswap/cert_info.hpp"

namespace certswap {

// Why `cert` is not `user`'s, or nullopt when it is (or when no user is
// configured: an inbox target names nobody).
std::optional<std::string> identity_mismatch(const CertInfo& cert, std::string_view user);

}  // namespace certswap
