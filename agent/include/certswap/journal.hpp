#pragma once
// What the agent knows between runs (design.md "record"): which credential is
// live, what is staged but not yet swapped, what was acknowledged upstream.
// An init container and a later sidecar share it through `state_dir`.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "certswap/credential.hpp"
#include "certswap/error.hpp"

namespace certswap {

struct JournalState {
  std::string live_fingerprint;     // SHA-256 of the live service.cert
  std::string live_ca_fingerprint;  // SHA-256 of the live ca.pem text
  std::string live_generation;
  // The last set the apps were told about: a failed notification is retried
  // until this matches the live fingerprint, and holds back the acknowledgement.
  std::string notified_fingerprint;
  std::string staged_fingerprint;         // what sits in staging/, if anything
  std::vector<std::string> acknowledged;  // fingerprints acknowledged upstream (last 10 kept)
  std::string last_result;                // "rotated", "up-to-date", "rejected", ...
  std::string last_error;
  std::int64_t last_check = 0, last_rotation = 0, next_check = 0;  // unix seconds
  // When a reset-credentials was asked for (recorded before the request) whose
  // new pair is not live yet: a later run installs that pair instead of
  // resetting again. 0: none owed.
  std::int64_t reset_requested = 0;
  // The fingerprint upstream served before that reset: the reset is done once
  // another pair is live, and asked again only while upstream still serves this.
  std::string reset_from;
};

class Journal {
 public:
  static constexpr std::size_t kMaxAcknowledged = 10;

  // Creates `state_dir` (0700) if missing and loads state.json if present. A
  // state.json that can't be parsed is an error, not a fresh start: silently
  // forgetting what is staged could lose a credential that can't be fetched again.
  // Writers only, under the target's WriterLock.
  static Result<Journal> open(std::filesystem::path state_dir);
  // For readers: creates nothing; nullopt when there is no journal yet.
  static Result<std::optional<JournalState>> read(const std::filesystem::path& state_dir);

  const JournalState& state() const { return state_; }
  // Writes state.json durably (0600); `acknowledged` is trimmed to the last 10.
  Result<void> save(JournalState s);

  // Replaces staging/ with {ca.pem, service.cert, service.key, origin}, 0600,
  // as one set: written and fsync'ed in staging.tmp/, then swapped in.
  Result<void> stage(const CredentialSet& set);
  Result<std::optional<CredentialSet>> staged() const;
  // Removes staging/ and forgets its fingerprint in state(); the next save
  // writes that down.
  Result<void> clear_staged();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  explicit Journal(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path dir_;
  JournalState state_;
};

}  // namespace certswap
