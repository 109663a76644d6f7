#pragma once
// The one table from outcomes and errors to process exit codes (README "Exit codes").
#include "certswap/error.hpp"

namespace certswap {

enum ExitCode : int {
  kExitOk = 0,            // done: rotated, acknowledged or already up to date
  kExitFailure = 1,       // local failure (file system, internal)
  kExitRotated = 2,       // with --detailed-exitcode: a new set went live
  kExitInvalid = 3,       // the credential failed validation or the broker refused it
  kExitApi = 4,           // the Aiven API failed or answered something unusable
  kExitInconclusive = 5,  // the broker could not be reached; nothing was swapped
  kExitNotify = 6,        // the new set is live but an app could not be told; not acknowledged
  kExitLocked = 7,        // another certswap held the target's lock past --lock-timeout
  // with --detailed-exitcode: a new set went live on offline checks alone (the
  // brokers gave no verdict and the live set was inside the emergency window)
  kExitRotatedUnchecked = 8,
  kExitUsage = 64,  // bad flags or configuration (EX_USAGE)
};

inline int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Usage:
      return kExitUsage;
    case ErrorKind::Api:
      return kExitApi;
    case ErrorKind::Invalid:
    case ErrorKind::Rejected:
      return kExitInvalid;
    case ErrorKind::Inconclusive:
      return kExitInconclusive;
    case ErrorKind::Notify:
      return kExitNotify;
    case ErrorKind::Locked:
      return kExitLocked;
    case ErrorKind::Io:
    case ErrorKind::Internal:
      return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace certswap
