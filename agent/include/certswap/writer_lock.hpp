#pragma once
// One writer per target at a time (design.md "one writer"): every command that
// changes the output or state directory holds an exclusive flock(2) on
// <state_dir>/lock for its whole run. The kernel drops it when the process
// dies, so a crash never leaves a stale lock. A sidecar, a CronJob and a
// person running `rotate` on the same directory take turns instead of racing.
#include <chrono>
#include <filesystem>

#include "certswap/error.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap {

class WriterLock {
 public:
  // Creates the state directory (0700, and its parent 0755 when that is the
  // output directory that does not exist yet), then waits up to `timeout` for
  // the lock. Fails with ErrorKind::Locked naming the holder's pid.
  static Result<WriterLock> acquire(const std::filesystem::path& state_dir,
                                    std::chrono::milliseconds timeout);

 private:
  explicit WriterLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace certswap
