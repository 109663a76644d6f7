#pragma once
// Crash-recovery tests need the process to die at exact points of a rotation.
// CERTSWAP_FAILPOINT=<name> makes the process SIGKILL itself there; unset (the
// normal case) it costs one getenv per step. Points, in rotation order:
// after-stage, after-generation-written, after-data-rename, after-swap,
// after-notify, before-acknowledge, after-acknowledge. Only test builds
// (CERTSWAP_BUILD_TESTS) have them; elsewhere failpoint() does nothing.
#include <string_view>

namespace certswap {

void failpoint(std::string_view name);

// CERTSWAP_FAILPOINT_ERROR=<name>: true where the step of that name should act
// as if its system call failed (EIO), for the fault paths a SIGKILL can't reach.
// Points: fsync-after-data-rename.
bool failpoint_error(std::string_view name);

}  // namespace certswap
