#pragma once
// Crash-recovery tests need the process to die at exact points of a rotation.
// CERTSWAP_FAILPOINT=<name> makes the process SIGKILL itself there; unset (the
// normal case) it costs one getenv per step. Points, in rotation order:
// after-stage, after-generation-written, after-data-rename, after-swap,
// after-notify, before-acknowledge, after-acknowledge; a Secret output has
// before-secret-write before each of its write attempts. Only test builds
// (CERTSWAP_BUILD_TESTS) have them; elsewhere failpoint() does nothing.
//
// CERTSWAP_FAILPOINT_PAUSE=<name> with CERTSWAP_FAILPOINT_PAUSE_FILE=<path>
// parks the process at that point instead: it creates <path> and waits until
// the file is removed. A test that sees the file knows the rotation is in
// flight right there (to send SIGTERM, drop a second set, or watch a stalled
// loop) and releases it by removing the file.
#include <string_view>

namespace certswap {

void failpoint(std::string_view name);

// CERTSWAP_FAILPOINT_ERROR=<name>: true where the step of that name should act
// as if its system call failed (EIO), for the fault paths a SIGKILL can't reach.
// Points: fsync-after-data-rename.
bool failpoint_error(std::string_view name);

}  // namespace certswap
