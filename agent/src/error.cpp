#include "certswap/error.hpp"

namespace certswap {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Usage:
      return "usage";
    case ErrorKind::Api:
      return "api";
    case ErrorKind::Invalid:
      return "invalid";
    case ErrorKind::Rejected:
      return "rejected";
    case ErrorKind::Inconclusive:
      return "inconclusive";
    case ErrorKind::Io:
      return "io";
    case ErrorKind::Notify:
      return "notify";
    case ErrorKind::Locked:
      return "locked";
    case ErrorKind::Internal:
      return "internal";
  }
  return "internal";
}

}  // namespace certswap
