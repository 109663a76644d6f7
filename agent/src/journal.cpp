#include "certswap/journal.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "certswap/cert_info.hpp"
#include "certswap/durable_file.hpp"

namespace certswap {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "state.json";
constexpr const char* kStaging = "staging";
constexpr const char* kStagingTmp = "staging.tmp";
constexpr mode_t kPrivate = 0600;

std::string errno_text() {
  return std::strerror(errno);
}

nlohmann::json to_json(const JournalState& s) {
  return {{"live_fingerprint", s.live_fingerprint},
          {"live_ca_fingerprint", s.live_ca_fingerprint},
          {"live_generation", s.live_generation},
          {"notified_fingerprint", s.notified_fingerprint},
          {"staged_fingerprint", s.staged_fingerprint},
          {"acknowledged", s.acknowledged},
          {"last_result", s.last_result},
          {"last_error", s.last_error},
          {"last_check", s.last_check},
          {"last_rotation", s.last_rotation},
          {"next_check", s.next_check},
          {"reset_requested", s.reset_requested},
          {"reset_from", s.reset_from}};
}

// Missing keys keep their defaults so that an older journal still loads;
// a key of the wrong type throws and is reported as corruption.
JournalState from_json(const nlohmann::json& j) {
  JournalState s;
  auto get = [&](const char* key, auto& field) {
    if (auto it = j.find(key); it != j.end()) it->get_to(field);
  };
  get("live_fingerprint", s.live_fingerprint);
  get("live_ca_fingerprint", s.live_ca_fingerprint);
  get("live_generation", s.live_generation);
  get("notified_fingerprint", s.notified_fingerprint);
  get("staged_fingerprint", s.staged_fingerprint);
  get("acknowledged", s.acknowledged);
  get("last_result", s.last_result);
  get("last_error", s.last_error);
  get("last_check", s.last_check);
  get("last_rotation", s.last_rotation);
  get("next_check", s.next_check);
  get("reset_requested", s.reset_requested);
  get("reset_from", s.reset_from);
  return s;
}

Result<void> remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) return fail(ErrorKind::Io, "remove_all({}) failed: {}", p.string(), ec.message());
  return {};
}

bool exists_no_follow(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace

Result<Journal> Journal::open(fs::path state_dir) {
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail(ErrorKind::Io, "mkdir({}) failed: {}", state_dir.string(), errno_text());
  Journal journal(std::move(state_dir));
  auto state = read(journal.dir_);
  if (!state) return std::unexpected(state.error());
  journal.state_ = state->value_or(JournalState{});
  return journal;
}

Result<std::optional<JournalState>> Journal::read(const fs::path& state_dir) {
  const fs::path state_path = state_dir / kStateFile;
  if (!exists_no_follow(state_path)) return std::nullopt;
  auto text = read_file(state_path);
  if (!text) return std::unexpected(text.error());
  try {
    const auto j = nlohmann::json::parse(*text);
    if (!j.is_object())
      return fail(ErrorKind::Io, "{} is corrupt (not a JSON object); fix or remove it by hand",
                  state_path.string());
    return from_json(j);
  } catch (const nlohmann::json::exception& e) {
    return fail(
        ErrorKind::Io,
        "{} is corrupt ({}); fix or remove it by hand, the agent will not guess its content",
        state_path.string(), e.what());
  }
}

Result<void> Journal::save(JournalState s) {
  if (s.acknowledged.size() > kMaxAcknowledged)
    s.acknowledged.erase(s.acknowledged.begin(),
                         s.acknowledged.end() - static_cast<std::ptrdiff_t>(kMaxAcknowledged));
  if (auto r = write_file_durably(dir_ / kStateFile, to_json(s).dump(2) + "\n", kPrivate); !r)
    return r;
  state_ = std::move(s);
  return {};
}

// stage:
//   1. remove a leftover staging.tmp/ (an interrupted stage) and create it 0700;
//   2. create each file in it (O_EXCL, 0600 before the first byte), write and
//      fsync it, then fsync staging.tmp/ once: the directory is new and
//      nobody reads it before step 3, so no file needs a rename of its own;
//   3. swap staging.tmp/ and staging/ with one renameat2(RENAME_EXCHANGE), so
//      a crash leaves either the whole old set or the whole new one; where the
//      file system can't exchange (or there is no old staging/), remove the
//      old one and rename, accepting a window with only staging.tmp/;
//   4. remove what is now staging.tmp/ (the old set) and fsync `dir`.
Result<void> Journal::stage(const CredentialSet& set) {
  const fs::path tmp = dir_ / kStagingTmp;
  const fs::path live = dir_ / kStaging;
  if (auto r = remove_tree(tmp); !r) return r;
  if (::mkdir(tmp.c_str(), 0700) != 0)
    return fail(ErrorKind::Io, "mkdir({}) failed: {}", tmp.string(), errno_text());
  {
    auto tmp_fd = open_directory(tmp);
    if (!tmp_fd) return std::unexpected(tmp_fd.error());
    for (const auto& [name, content] :
         {std::pair<const char*, const std::string*>{"ca.pem", &set.ca_pem},
          {"service.cert", &set.cert_pem},
          {"service.key", &set.key_pem},
          {"origin", &set.origin}})
      if (auto r = write_new_file(tmp_fd->get(), name, *content, kPrivate, tmp / name); !r)
        return r;
    if (auto r = fsync_fd(tmp_fd->get(), tmp); !r) return r;
  }

  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, live.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != ENOENT && errno != EINVAL && errno != ENOSYS)
      return fail(ErrorKind::Io, "renameat2({} <-> {}, RENAME_EXCHANGE) failed: {}", tmp.string(),
                  live.string(), errno_text());
    if (auto r = remove_tree(live); !r) return r;
    if (::rename(tmp.c_str(), live.c_str()) != 0)
      return fail(ErrorKind::Io, "rename({} -> {}) failed: {}", tmp.string(), live.string(),
                  errno_text());
  }
  if (auto r = remove_tree(tmp); !r) return r;
  auto dfd = open_directory(dir_);
  if (!dfd) return std::unexpected(dfd.error());
  if (auto r = fsync_fd(dfd->get(), dir_); !r) return r;
  // A set that does not parse is staged all the same (it may be all there is);
  // its fingerprint is then that of the text.
  auto info = inspect_certificate_pem(set.cert_pem, "staged service.cert");
  JournalState s = state_;
  s.staged_fingerprint = info ? info->sha256_fingerprint : sha256_hex(set.cert_pem);
  return save(std::move(s));
}

Result<std::optional<CredentialSet>> Journal::staged() const {
  const fs::path live = dir_ / kStaging;
  if (!exists_no_follow(live)) return std::nullopt;
  CredentialSet set;
  for (const auto& [name, field] : {std::pair<const char*, std::string*>{"ca.pem", &set.ca_pem},
                                    {"service.cert", &set.cert_pem},
                                    {"origin", &set.origin}}) {
    auto text = read_file(live / name);
    if (!text) return std::unexpected(text.error());
    *field = std::move(*text);
  }
  auto key = read_file(live / "service.key");
  if (!key) return std::unexpected(key.error());
  set.key_pem = std::move(*key);
  return set;
}

// Neither a save nor an fsync of `dir` of its own: a rotation's next step
// saves its outcome anyway, and that save renames state.json in the same
// directory and fsyncs it, which makes the removal durable with it. A crash in
// between leaves a journal that still names the staged set, which only
// `status` reads, until the next check.
Result<void> Journal::clear_staged() {
  if (auto r = remove_tree(dir_ / kStaging); !r) return r;
  state_.staged_fingerprint.clear();
  return {};
}

}  // namespace certswap
