#include "certswap/atomic_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>

#include "certswap/durable_file.hpp"
#include "certswap/failpoint.hpp"

namespace certswap {
namespace fs = std::filesystem;

namespace {

constexpr const char* kData = "..data";
constexpr const char* kDataTmp = "..data_tmp";
constexpr const char* kLinkTmpPrefix = "..link_tmp.";

std::string errno_text() {
  return std::strerror(errno);
}

// "..2026_11_24_10_00_00.123456789", optionally followed by "_<n>" suffixes.
bool is_generation_name(std::string_view name) {
  return name.size() > 3 && name.starts_with("..") && name[2] >= '0' && name[2] <= '9';
}

bool is_valid_file_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && !name.starts_with("..") &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string link_target_for(const std::string& name) {
  return std::string(kData) + "/" + name;
}

std::string timestamp_name() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  const std::time_t t = secs.count();
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y_%m_%d_%H_%M_%S", &tm);
  return fmt::format("..{}.{:09d}", buf, nanos);
}

// lstat relative to the directory fd; nullopt when the entry does not exist.
Result<std::optional<struct stat>> lstat_at(int dir_fd, const std::string& name,
                                            const fs::path& dir) {
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  return fail(ErrorKind::Io, "lstat({}) failed: {}", (dir / name).string(), errno_text());
}

Result<std::optional<std::string>> readlink_at(int dir_fd, const std::string& name,
                                               const fs::path& dir) {
  char buf[4096];
  ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf, sizeof buf - 1);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  if (errno == ENOENT) return std::nullopt;
  return fail(ErrorKind::Io, "readlink({}) failed: {}", (dir / name).string(), errno_text());
}

Result<std::vector<std::string>> list_names(int dir_fd, const fs::path& dir) {
  // fdopendir takes ownership of its descriptor, so give it a duplicate.
  int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return fail(ErrorKind::Io, "dup of {} failed: {}", dir.string(), errno_text());
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(dup_fd), ::closedir);
  if (!d) {
    ::close(dup_fd);
    return fail(ErrorKind::Io, "fdopendir({}) failed: {}", dir.string(), errno_text());
  }
  ::rewinddir(d.get());
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  if (errno != 0) return fail(ErrorKind::Io, "readdir({}) failed: {}", dir.string(), errno_text());
  return names;
}

// A stale `..data_tmp` is a crash leftover (a symlink) and only ever unlinked,
// never followed; anything else there was not made by us.
Result<void> remove_stale_data_tmp(int dir_fd, const fs::path& dir) {
  auto st = lstat_at(dir_fd, kDataTmp, dir);
  if (!st) return std::unexpected(st.error());
  if (!*st) return {};
  if (!S_ISLNK((*st)->st_mode))
    return fail(ErrorKind::Io,
                "{} exists and is not a symlink; refusing to touch it, remove it by hand",
                (dir / kDataTmp).string());
  if (::unlinkat(dir_fd, kDataTmp, 0) != 0)
    return fail(ErrorKind::Io, "unlink({}) failed: {}", (dir / kDataTmp).string(), errno_text());
  return {};
}

// The target of `..data`, checked to be one of our generations: a planted
// `..data` (a directory, or a link to /etc) is reported, not followed.
Result<std::optional<std::string>> checked_current(int dir_fd, const fs::path& dir) {
  auto st = lstat_at(dir_fd, kData, dir);
  if (!st) return std::unexpected(st.error());
  if (!*st) return std::nullopt;
  if (!S_ISLNK((*st)->st_mode))
    return fail(ErrorKind::Io, "{} exists and is not a symlink; refusing to use this directory",
                (dir / kData).string());
  auto target = readlink_at(dir_fd, kData, dir);
  if (!target) return std::unexpected(target.error());
  if (!*target || !is_generation_name(**target) || (*target)->find('/') != std::string::npos)
    return fail(ErrorKind::Io,
                "{} points to \"{}\", not to a generation in the directory; refusing to follow it",
                (dir / kData).string(), target->value_or(""));
  return *target;
}

// A name we are about to link must be absent, a regular file (migration from
// a hand-made set) or already our link; a link elsewhere or a directory is refused.
Result<void> check_name_is_ours(int dir_fd, const std::string& name, const fs::path& dir) {
  auto st = lstat_at(dir_fd, name, dir);
  if (!st) return std::unexpected(st.error());
  if (!*st || S_ISREG((*st)->st_mode)) return {};
  if (S_ISLNK((*st)->st_mode)) {
    auto target = readlink_at(dir_fd, name, dir);
    if (!target) return std::unexpected(target.error());
    if (*target && **target == link_target_for(name)) return {};
    return fail(ErrorKind::Io,
                "{} is a symlink to \"{}\", not to {}; refusing to follow or replace it",
                (dir / name).string(), target->value_or(""), link_target_for(name));
  }
  return fail(ErrorKind::Io,
              "{} exists and is neither a regular file nor our symlink; refusing to replace it",
              (dir / name).string());
}

}  // namespace

// open:
//   1. create `dir` (0755) if missing and hold a descriptor on it; every
//      later step works relative to that descriptor;
//   2. check `..data`: absent, or a symlink to a generation name;
//   3. unlink a stale `..data_tmp` (crash between symlink and rename);
//   4. remove orphan generations, i.e. newer than the current one (crash
//      before the rename published them), then fsync `dir`.
Result<AtomicStore> AtomicStore::open(fs::path dir, StoreOptions opts) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(ErrorKind::Io, "mkdir({}) failed: {}", dir.string(), errno_text());
  // The directory itself may be a symlink set up by an admin; only what is
  // inside it is held to O_NOFOLLOW.
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return fail(ErrorKind::Io, "open({}) as a directory failed: {}", dir.string(), errno_text());
  AtomicStore store(std::move(dir), opts, std::move(fd));
  const int dfd = store.dir_fd_.get();

  auto current = checked_current(dfd, store.dir_);
  if (!current) return std::unexpected(current.error());
  auto stale = lstat_at(dfd, kDataTmp, store.dir_);
  if (!stale) return std::unexpected(stale.error());
  bool removed = stale->has_value();
  if (auto r = remove_stale_data_tmp(dfd, store.dir_); !r) return std::unexpected(r.error());
  for (const auto& gen : store.generations()) {
    if (current->has_value() && gen <= **current) continue;
    if (auto r = store.remove_generation(gen); !r) return std::unexpected(r.error());
    removed = true;
  }
  // A directory nothing was removed from has nothing to make durable.
  if (removed) {
    if (auto r = fsync_fd(dfd, store.dir_); !r) return std::unexpected(r.error());
  }
  return store;
}

Result<AtomicStore> AtomicStore::open_readonly(fs::path dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return fail(ErrorKind::Io, "open({}) as a directory failed: {}", dir.string(), errno_text());
  return AtomicStore(std::move(dir), StoreOptions{}, std::move(fd));
}

std::optional<std::string> AtomicStore::current_generation() const {
  auto current = checked_current(dir_fd_.get(), dir_);
  if (!current) return std::nullopt;
  return *current;
}

std::vector<std::string> AtomicStore::generations() const {
  std::vector<std::string> gens;
  auto names = list_names(dir_fd_.get(), dir_);
  if (!names) return gens;
  for (auto& n : *names) {
    if (!is_generation_name(n)) continue;
    auto st = lstat_at(dir_fd_.get(), n, dir_);
    if (st && *st && S_ISDIR((*st)->st_mode)) gens.push_back(std::move(n));
  }
  std::sort(gens.begin(), gens.end());
  return gens;
}

// Names sort by time. A name is never reused and never sorts before an
// existing generation (the clock may step back), so "newer than ..data"
// keeps meaning "published later".
Result<std::string> AtomicStore::make_generation_dir() {
  const auto existing = generations();
  const std::string now = timestamp_name();
  const bool clock_behind = !existing.empty() && existing.back() >= now;
  // Behind, the next name continues the newest one's numbering ("_001",
  // "_002", ...) on its timestamp, rather than growing a suffix per swap.
  std::string base = now;
  int first = 0;
  if (clock_behind) {
    const std::string& newest = existing.back();
    base = newest.substr(0, std::min(newest.size(), now.size()));
    int suffix = 0;
    if (newest.size() > base.size() + 1 && newest[base.size()] == '_')
      std::from_chars(newest.data() + base.size() + 1, newest.data() + newest.size(), suffix);
    first = suffix + 1;
  }
  // Zero-padded suffixes keep string order equal to creation order.
  for (int n = first; n < 1000; ++n) {
    const std::string name = n == 0 ? base : fmt::format("{}_{:03d}", base, n);
    if (::mkdirat(dir_fd_.get(), name.c_str(), 0755) == 0) return name;
    if (errno != EEXIST)
      return fail(ErrorKind::Io, "mkdir({}) failed: {}", (dir_ / name).string(), errno_text());
  }
  return fail(ErrorKind::Io, "could not find a free generation name in {}", dir_.string());
}

Result<void> AtomicStore::remove_generation(const std::string& generation) {
  auto st = lstat_at(dir_fd_.get(), generation, dir_);
  if (!st) return std::unexpected(st.error());
  if (!*st) return {};
  if (!S_ISDIR((*st)->st_mode))
    return fail(ErrorKind::Io, "{} is not a directory; refusing to remove it",
                (dir_ / generation).string());
  std::error_code ec;
  // remove_all unlinks symlinks rather than following them.
  fs::remove_all(dir_ / generation, ec);
  if (ec)
    return fail(ErrorKind::Io, "remove_all({}) failed: {}", (dir_ / generation).string(),
                ec.message());
  return {};
}

// Flip `..data`: symlink the generation at `..data_tmp`, rename it over
// `..data` (one atomic directory-entry replacement), fsync `dir`.
Result<void> AtomicStore::point_data_at(const std::string& generation) {
  const int dfd = dir_fd_.get();
  // Checked here, right before the rename, not only by the caller: `..data`
  // pointing at a missing directory makes every public name dangle.
  auto st = lstat_at(dfd, generation, dir_);
  if (!st) return std::unexpected(st.error());
  if (!*st || !S_ISDIR((*st)->st_mode))
    return fail(ErrorKind::Io,
                "generation {} is not there (removed by another writer?); not pointing {} at it",
                (dir_ / generation).string(), (dir_ / kData).string());
  if (auto r = remove_stale_data_tmp(dfd, dir_); !r) return r;
  if (::symlinkat(generation.c_str(), dfd, kDataTmp) != 0)
    return fail(ErrorKind::Io, "symlink({} -> {}) failed: {}", (dir_ / kDataTmp).string(),
                generation, errno_text());
  if (::renameat(dfd, kDataTmp, dfd, kData) != 0) {
    auto err = fail(ErrorKind::Io, "rename({} -> {}) failed: {}", (dir_ / kDataTmp).string(),
                    (dir_ / kData).string(), errno_text());
    ::unlinkat(dfd, kDataTmp, 0);
    return err;
  }
  failpoint("after-data-rename");
  // The new set is live from here on, durable or not: a failed fsync is
  // retried and reported, and the caller must not remove the generation.
  Result<void> synced;
  for (int attempt = 0; attempt < 3; ++attempt) {
    synced = failpoint_error("fsync-after-data-rename")
                 ? fail(ErrorKind::Io, "fsync({}) failed: {}", dir_.string(), std::strerror(EIO))
                 : fsync_fd(dfd, dir_);
    if (synced) return synced;
  }
  return fail(ErrorKind::Io,
              "{} now points to {} (the new set is live), but it could not be made durable: {}",
              (dir_ / kData).string(), generation, synced.error().message);
}

// Each name becomes `name -> ..data/name` through a temporary link renamed
// into place, so a regular file or a stray link there is replaced atomically:
// there is no moment where `name` is missing. Then fsync `dir`.
Result<void> AtomicStore::link_names(const std::vector<std::string>& names) {
  const int dfd = dir_fd_.get();
  bool changed = false;
  for (const auto& name : names) {
    const std::string target = link_target_for(name);
    auto existing = readlink_at(dfd, name, dir_);
    if (existing && *existing && **existing == target) continue;
    changed = true;
    const std::string tmp = kLinkTmpPrefix + name;
    if (::unlinkat(dfd, tmp.c_str(), 0) != 0 && errno != ENOENT)
      return fail(ErrorKind::Io, "unlink({}) failed: {}", (dir_ / tmp).string(), errno_text());
    if (::symlinkat(target.c_str(), dfd, tmp.c_str()) != 0)
      return fail(ErrorKind::Io, "symlink({} -> {}) failed: {}", (dir_ / tmp).string(), target,
                  errno_text());
    if (::renameat(dfd, tmp.c_str(), dfd, name.c_str()) != 0) {
      auto err = fail(ErrorKind::Io, "rename({} -> {}) failed: {}", (dir_ / tmp).string(),
                      (dir_ / name).string(), errno_text());
      ::unlinkat(dfd, tmp.c_str(), 0);
      return err;
    }
  }
  // Every link in place already (each swap after the first): nothing to sync.
  if (!changed) return {};
  return fsync_fd(dfd, dir_);
}

// publish:
//   0. check every name, and `..data`, before any change (see check_name_is_ours);
//   1. create the generation directory, 0755 whatever the umask: readers of
//      other users must traverse it; secrecy comes from each file's mode;
//   2. create each file with O_CREAT|O_EXCL|O_NOFOLLOW under the generation's
//      fd, fchown/fchmod before the first byte, write, fsync;
//   3. fsync the generation directory;
//   4-5. flip `..data` to it (point_data_at), which fsyncs `dir`;
//   6-7. create or fix the per-name links (link_names), which fsyncs `dir`.
//      A plain file from a hand-made set is replaced here, one name at a time,
//      only after the new generation is durable.
// A failure in 1-3 removes the new generation; the live set is untouched.
Result<std::string> AtomicStore::publish(const std::vector<StoredFile>& files) {
  const int dfd = dir_fd_.get();
  std::vector<std::string> names;
  for (const auto& f : files) {
    if (!is_valid_file_name(f.name))
      return fail(ErrorKind::Internal, "\"{}\" is not a valid file name for {}", f.name,
                  dir_.string());
    if (std::find(names.begin(), names.end(), f.name) != names.end())
      return fail(ErrorKind::Internal, "file name \"{}\" given twice for {}", f.name,
                  dir_.string());
    if (auto r = check_name_is_ours(dfd, f.name, dir_); !r) return std::unexpected(r.error());
    names.push_back(f.name);
  }
  if (auto cur = checked_current(dfd, dir_); !cur) return std::unexpected(cur.error());

  auto gen = write_generation(files);
  if (!gen) return gen;
  failpoint("after-generation-written");
  if (auto r = point_data_at(*gen); !r) {
    // Once the rename happened its target is what the apps read: keep it.
    if (current_generation() != *gen) (void)remove_generation(*gen);
    return std::unexpected(r.error());
  }
  if (auto r = link_names(names); !r) return std::unexpected(r.error());
  return *gen;
}

// publish steps 1-3; a failure removes the new generation.
Result<std::string> AtomicStore::write_generation(const std::vector<StoredFile>& files) {
  const int dfd = dir_fd_.get();
  auto gen = make_generation_dir();
  if (!gen) return gen;
  const fs::path gen_path = dir_ / *gen;
  auto written = [&]() -> Result<void> {
    UniqueFd gfd(::openat(dfd, gen->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!gfd) return fail(ErrorKind::Io, "open({}) failed: {}", gen_path.string(), errno_text());
    if (::fchmod(gfd.get(), 0755) != 0)
      return fail(ErrorKind::Io, "fchmod({}, 755) failed: {}", gen_path.string(), errno_text());
    for (const auto& f : files) {
      const fs::path p = gen_path / f.name;
      UniqueFd fd(::openat(gfd.get(), f.name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
      if (!fd) return fail(ErrorKind::Io, "create {} failed: {}", p.string(), errno_text());
      if ((opts_.uid || opts_.gid) && ::fchown(fd.get(), opts_.uid.value_or(static_cast<uid_t>(-1)),
                                               opts_.gid.value_or(static_cast<gid_t>(-1))) != 0)
        return fail(ErrorKind::Io, "fchown({}) failed: {}", p.string(), errno_text());
      const mode_t mode = mode_for(f);
      if (::fchmod(fd.get(), mode) != 0)
        return fail(ErrorKind::Io, "fchmod({}, {:o}) failed: {}", p.string(), mode, errno_text());
      if (auto r = write_all(fd.get(), f.content, p); !r) return r;
      if (auto r = fsync_fd(fd.get(), p); !r) return r;
    }
    return fsync_fd(gfd.get(), gen_path);
  }();
  if (!written) {
    (void)remove_generation(*gen);
    return std::unexpected(written.error());
  }
  return *gen;
}

std::vector<std::string> AtomicStore::plain_files(const std::vector<std::string>& names) const {
  std::vector<std::string> plain;
  for (const auto& name : names) {
    auto st = lstat_at(dir_fd_.get(), name, dir_);
    if (st && *st && S_ISREG((*st)->st_mode)) plain.push_back(name);
  }
  return plain;
}

Result<std::map<std::string, std::string>> AtomicStore::read_live(
    const std::vector<std::string>& plain_names) const {
  const int dfd = dir_fd_.get();
  std::map<std::string, std::string> out;
  for (const auto& name : plain_files(plain_names)) {
    UniqueFd fd(::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
      return fail(ErrorKind::Io, "open({}) failed: {}", (dir_ / name).string(), errno_text());
    auto content = read_all(fd.get(), dir_ / name);
    if (!content) return std::unexpected(content.error());
    out.emplace(name, std::move(*content));
  }
  auto current = checked_current(dfd, dir_);
  if (!current) return std::unexpected(current.error());
  // Nothing published: the plain files, if any, are all a reader finds.
  if (!*current) return out;
  // Resolve ..data once so that every file comes from the same generation.
  const fs::path gen_path = dir_ / **current;
  UniqueFd gfd(::openat(dfd, (*current)->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  // `..data` dangles: every link does, and only the plain files are readable.
  if (!gfd && errno == ENOENT) return out;
  if (!gfd) return fail(ErrorKind::Io, "open({}) failed: {}", gen_path.string(), errno_text());
  auto names = list_names(dfd, dir_);
  if (!names) return std::unexpected(names.error());
  for (const auto& name : *names) {
    if (!is_valid_file_name(name)) continue;
    auto target = readlink_at(dfd, name, dir_);
    if (!target || !*target || **target != link_target_for(name)) continue;
    UniqueFd fd(::openat(gfd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    // A link whose file the generation lacks dangles: no reader gets it, so
    // it is not part of the live set (the format names what is missing).
    if (!fd && errno == ENOENT) continue;
    if (!fd)
      return fail(ErrorKind::Io, "open({}) failed: {}", (gen_path / name).string(), errno_text());
    auto content = read_all(fd.get(), gen_path / name);
    if (!content) return std::unexpected(content.error());
    out.emplace(name, std::move(*content));
  }
  return out;
}

mode_t AtomicStore::mode_for(const StoredFile& file) const {
  return file.secret ? opts_.key_mode : opts_.public_mode;
}

std::optional<std::string> AtomicStore::attributes_differ(
    const std::vector<StoredFile>& files) const {
  for (const auto& f : files) {
    struct stat st {};
    // Through the link: the apps read the generation's file.
    if (::fstatat(dir_fd_.get(), f.name.c_str(), &st, 0) != 0 || !S_ISREG(st.st_mode))
      return fmt::format("{} is missing", (dir_ / f.name).string());
    const mode_t mode = mode_for(f);
    if ((st.st_mode & 07777) != mode)
      return fmt::format("{} has mode {:o}, the configuration asks for {:o}",
                         (dir_ / f.name).string(), st.st_mode & 07777, mode);
    if (opts_.uid && st.st_uid != *opts_.uid)
      return fmt::format("{} is owned by uid {}, the configuration asks for {}",
                         (dir_ / f.name).string(), st.st_uid, *opts_.uid);
    if (opts_.gid && st.st_gid != *opts_.gid)
      return fmt::format("{} has gid {}, the configuration asks for {}", (dir_ / f.name).string(),
                         st.st_gid, *opts_.gid);
  }
  return std::nullopt;
}

// activate (rollback or repair): the generation must be a real directory in
// `dir`; then the same flip as publish step 4-5.
Result<void> AtomicStore::activate(const std::string& generation) {
  if (!is_generation_name(generation) || generation.find('/') != std::string::npos)
    return fail(ErrorKind::Internal, "\"{}\" is not a generation name", generation);
  return point_data_at(generation);
}

Result<void> AtomicStore::prune(int keep) {
  const auto current = current_generation();
  auto gens = generations();
  std::reverse(gens.begin(), gens.end());  // newest first (names sort by time)
  int kept = current ? 1 : 0;
  for (const auto& gen : gens) {
    if (current && gen == *current) continue;
    // Newer than the live one: written by a run that died before its rename,
    // never live, nothing to roll back to.
    const bool never_live = current && gen > *current;
    if (!never_live && kept < keep) {
      ++kept;
      continue;
    }
    if (auto r = remove_generation(gen); !r) return r;
  }
  // No fsync: a removal lost to a power cut brings back a generation that is
  // not live, and the next prune removes it again.
  return {};
}

// adopt_plain_files:
//   1. read what a reader opens now through every public name: the plain
//      files among `names` (regular files, not followed) and the links that
//      still resolve through `..data` (a directory that is part plain, part
//      links, e.g. an admin dropped avn's service.cert and service.key over
//      our links but not ca.pem);
//   2. unless `..data` already holds the plain files' bytes (a run killed
//      after step 3), write all of step 1 as a new generation and flip
//      `..data` to it (publish steps 1-5): the plain files are not read
//      through `..data`, and every link now finds the same bytes in the new
//      generation, so nothing a reader opens has changed yet;
//   3. replace each plain file by its link, one rename each: before and after
//      every rename the name yields the same bytes, so cert and key match at
//      every moment and at every crash point, and no link ever dangles.
Result<void> AtomicStore::adopt_plain_files(const std::vector<std::string>& names) {
  const auto plain = plain_files(names);
  if (plain.empty()) return {};
  auto seen = read_live(plain);
  if (!seen) return std::unexpected(seen.error());
  bool staged = false;
  if (auto current = current_generation()) {
    staged = std::ranges::all_of(plain, [&](const std::string& name) {
      UniqueFd fd(::openat(dir_fd_.get(), (*current + "/" + name).c_str(),
                           O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!fd) return false;
      auto content = read_all(fd.get(), dir_ / *current / name);
      return content && *content == seen->at(name);
    });
  }
  if (!staged) {
    std::vector<StoredFile> files;
    for (const auto& [name, content] : *seen) {
      // The key's mode is the only one that matters for secrecy; a name is
      // secret when its bytes say so, as the formats mark them.
      const bool secret = content.find("PRIVATE KEY") != std::string::npos ||
                          name.ends_with(".p12") || name.ends_with(".key");
      files.push_back({name, content, secret});
    }
    auto gen = write_generation(files);
    if (!gen) return std::unexpected(gen.error());
    if (auto r = point_data_at(*gen); !r) {
      if (current_generation() != *gen) (void)remove_generation(*gen);
      return r;
    }
    failpoint("adopt-after-data-rename");
  }
  for (std::size_t i = 0; i < plain.size(); ++i) {
    if (auto r = link_names({plain[i]}); !r) return r;
    if (i == 0) failpoint("adopt-after-first-link");
  }
  return {};
}

bool AtomicStore::ever_held_a_set(const std::vector<std::string>& names) const {
  const int dfd = dir_fd_.get();
  auto exists = [&](const std::string& name) {
    auto st = lstat_at(dfd, name, dir_);
    return !st || st->has_value();  // an entry we cannot even lstat counts as there
  };
  return exists(kData) || !generations().empty() || std::ranges::any_of(names, exists);
}

Result<void> AtomicStore::repair_links(const std::vector<std::string>& names) {
  for (const auto& name : names)
    if (!is_valid_file_name(name))
      return fail(ErrorKind::Internal, "\"{}\" is not a valid file name for {}", name,
                  dir_.string());
  auto current = checked_current(dir_fd_.get(), dir_);
  if (!current) return std::unexpected(current.error());
  if (!*current)
    return fail(ErrorKind::Io, "{} has no {}: publish before repairing links", dir_.string(),
                kData);
  return link_names(names);
}

}  // namespace certswap
