#pragma once
// One writer per output at a time (design.md "one writer"): every command that
// changes an output directory or its journal holds an exclusive flock(2) for
// its whole run, on a lock file that belongs to what it guards:
//   <output_dir>/..certswap.lock   the files the apps read, whatever --state-dir
//                                  says, so two writers with different state
//                                  directories still take turns;
//   <state_dir>/lock               the journal and staging, which may live
//                                  elsewhere (CERTSWAP_STATE_DIR).
// The kernel drops both when the process dies, so a crash never leaves a stale
// lock. They are always taken in that order, so two writers cannot deadlock.
#include <chrono>
#include <filesystem>

#include "certswap/error.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap {

class WriterLock {
 public:
  // Creates the output directory (0755) and the state directory (0700) when
  // missing (an empty `output_dir`: a target that has none), then waits up to `timeout` in all for
  // both locks. Fails with ErrorKind::Locked naming the lock file and its holder's pid.
  static Result<WriterLock> acquire(const std::filesystem::path& output_dir,
                                    const std::filesystem::path& state_dir,
                                    std::chrono::milliseconds timeout);

  // The lock file that guards an output directory.
  static std::filesystem::path output_lock_path(const std::filesystem::path& output_dir);

 private:
  WriterLock(UniqueFd output, UniqueFd state)
      : output_(std::move(output)), state_(std::move(state)) {}
  UniqueFd output_;
  UniqueFd state_;
};

}  // namespace certswap
