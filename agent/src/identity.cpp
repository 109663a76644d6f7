#include "certswap/identity.hpp"

#include <fmt/format.h>

namespace certswap {

std::optional<std::string> identity_mismatch(const CertInfo& cert, std::string_view user) {
  if (user.empty() || cert.common_name == user) return std::nullopt;
  return fmt::format(
      "it belongs to user \"{}\" (subject \"{}\"), not to the configured user \"{}\"",
      cert.common_name, cert.subject, user);
}

}  // namespace certswap
