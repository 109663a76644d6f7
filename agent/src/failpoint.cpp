#include "certswap/failpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "certswap/unique_fd.hpp"

namespace certswap {

void failpoint([[maybe_unused]] std::string_view name) {
#ifdef CERTSWAP_FAILPOINTS
  const char* wanted = std::getenv("CERTSWAP_FAILPOINT");
  if (wanted && name == wanted) std::raise(SIGKILL);
  const char* pause = std::getenv("CERTSWAP_FAILPOINT_PAUSE");
  const char* file = std::getenv("CERTSWAP_FAILPOINT_PAUSE_FILE");
  if (!pause || !file || name != pause) return;
  const UniqueFd parked(::open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  struct stat st {};
  while (::stat(file, &st) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
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
