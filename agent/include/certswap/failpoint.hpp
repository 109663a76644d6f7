#pragma once
// Crash-recovery tests need the process to die at exact points of a rotation.
// CERTSWAP_FAILPOINT=<name> makes the process SIGKILL itself there; unset (the
// normal case) it costs one getenv per step.
#include <string_view>

namespace certswap {

void failpoint(std::string_view name);

}  // namespace certswap
