#include "certswap/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace certswap {
namespace fs = std::filesystem;

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// Unique within the process (counter) and across processes (pid); O_EXCL
// catches anything else, e.g. a leftover from a crashed run with a reused pid.
std::string temp_name_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return fmt::format(".{}.tmp.{}.{}", path.filename().string(), ::getpid(), counter++);
}

}  // namespace

Result<UniqueFd> open_directory(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd)
    return fail(ErrorKind::Io, "open({}) as a directory failed: {}", path.string(), errno_text());
  return fd;
}

namespace {
// Per thread: a check runs on one thread from start to end, so what its thread
// counted is its own, whatever other targets' checks do meanwhile.
thread_local std::uint64_t fsync_calls = 0;
thread_local std::int64_t fsync_us = 0;
}  // namespace

Result<void> fsync_fd(int fd, const fs::path& what) {
  const auto start = std::chrono::steady_clock::now();
  const int rc = ::fsync(fd);
  const int saved = errno;
  fsync_us += std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  ++fsync_calls;
  errno = saved;
  if (rc != 0) return fail(ErrorKind::Io, "fsync({}) failed: {}", what.string(), errno_text());
  return {};
}

FsyncStats fsync_stats() {
  return {fsync_calls, std::chrono::microseconds(fsync_us)};
}

Result<void> write_all(int fd, std::string_view content, const fs::path& what) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::Io, "write({}) failed: {}", what.string(), errno_text());
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> write_new_file(int dir_fd, const char* name, std::string_view content, mode_t mode,
                            const fs::path& what) {
  UniqueFd fd(::openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
  if (!fd) return fail(ErrorKind::Io, "create {} failed: {}", what.string(), errno_text());
  if (::fchmod(fd.get(), mode) != 0)
    return fail(ErrorKind::Io, "fchmod({}, {:o}) failed: {}", what.string(), mode, errno_text());
  if (auto r = write_all(fd.get(), content, what); !r) return r;
  return fsync_fd(fd.get(), what);
}

// Steps, each failure reported as its own outcome:
//   1. open the parent directory (the temp file and the rename live there);
//   2. create a temp file with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0, then
//      fchmod it to `mode` before the first byte, so a key is never readable
//      by anyone else, not even for a moment and whatever the umask;
//   3. write everything and fsync, so the rename can't publish an empty file;
//   4. rename over `path` (replaces a symlink rather than following it);
//   5. fsync the directory, so the rename itself survives a power loss.
// On failure after step 2 the temp file is unlinked; `path` is untouched.
Result<void> write_file_durably(const fs::path& path, std::string_view content, mode_t mode) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  auto dir = open_directory(parent);
  if (!dir) return std::unexpected(dir.error());

  const std::string temp = temp_name_for(path);
  const fs::path temp_path = parent / temp;
  UniqueFd fd(
      ::openat(dir->get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0));
  if (!fd)
    return fail(ErrorKind::Io, "create temp file {} failed: {}", temp_path.string(), errno_text());

  auto written = [&]() -> Result<void> {
    if (::fchmod(fd.get(), mode) != 0)
      return fail(ErrorKind::Io, "fchmod({}, {:o}) failed: {}", temp_path.string(), mode,
                  errno_text());
    if (auto r = write_all(fd.get(), content, temp_path); !r) return r;
    if (auto r = fsync_fd(fd.get(), temp_path); !r) return r;
    if (::renameat(dir->get(), temp.c_str(), dir->get(), path.filename().c_str()) != 0)
      return fail(ErrorKind::Io, "rename({} -> {}) failed: {}", temp_path.string(), path.string(),
                  errno_text());
    return {};
  }();
  if (!written) {
    ::unlinkat(dir->get(), temp.c_str(), 0);
    return written;
  }
  return fsync_fd(dir->get(), parent);
}

Result<std::string> read_all(int fd, const fs::path& what) {
  // A FIFO or a device put where a file belongs would block the reader (the
  // sidecar's loop) forever, or never end.
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return fail(ErrorKind::Io, "fstat({}) failed: {}", what.string(), errno_text());
  if (!S_ISREG(st.st_mode))
    return fail(ErrorKind::Io,
                "{} is not a regular file (a FIFO, socket or device?): not reading it",
                what.string());
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorKind::Io, "read({}) failed: {}", what.string(), errno_text());
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> read_file(const fs::path& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; read_all refuses it.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd)
    return fail(ErrorKind::Io, "open({}) for reading failed: {}", path.string(), errno_text());
  return read_all(fd.get(), path);
}

}  // namespace certswap
