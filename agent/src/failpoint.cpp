#include "certswap/failpoint.hpp"

#include <csignal>
#include <cstdlib>

namespace certswap {

void failpoint(std::string_view name) {
  const char* wanted = std::getenv("CERTSWAP_FAILPOINT");
  if (wanted && name == wanted) std::raise(SIGKILL);
}

}  // namespace certswap
