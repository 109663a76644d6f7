#include "certswap/failpoint.hpp"

#include <csignal>
#include <cstdlib>

namespace certswap {

void failpoint([[maybe_unused]] std::string_view name) {
#ifdef CERTSWAP_FAILPOINTS
  const char* wanted = std::getenv("CERTSWAP_FAILPOINT");
  if (wanted && name == wanted) std::raise(SIGKILL);
#endif
}

bool failpoint_error([[maybe_unused]] std::string_view name) {
#ifdef CERTSWAP_FAILPOINTS
  const char* wanted = std::getenv("CERTSWAP_FAILPOINT_ERROR");
  return wanted && name == wanted;
#else
  return false;
#endif
}

}  // namespace certswap
