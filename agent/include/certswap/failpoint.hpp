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

}  // namespace certswap
