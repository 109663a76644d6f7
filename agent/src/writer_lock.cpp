#include "certswap/writer_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace certswap {
namespace {

using std::chrono::steady_clock;

std::string errno_text() {
  return std::strerror(errno);
}

Result<void> make_dir(const std::filesystem::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) == 0 || errno == EEXIST) return {};
  return fail(ErrorKind::Io, "mkdir({}) failed: {}", dir.string(), errno_text());
}

// The pid the holder wrote, for the message; "unknown" while it is writing it.
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

Result<UniqueFd> lock_file(const std::filesystem::path& path, steady_clock::time_point deadline,
                           std::chrono::milliseconds timeout) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return fail(ErrorKind::Io, "open({}) failed: {}", path.string(), errno_text());
  // flock has no timeout of its own; a short, growing poll bounds the wait
  // without a thread or a signal.
  auto pause = std::chrono::milliseconds(5);
  while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return fail(ErrorKind::Io, "flock({}) failed: {}", path.string(), errno_text());
    if (steady_clock::now() >= deadline) {
      return fail(ErrorKind::Locked,
                  "another certswap (pid {}) is writing this target and holds {}; waited {} ms "
                  "(--lock-timeout)",
                  holder_pid(fd.get()), path.string(), timeout.count());
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return fail(ErrorKind::Io, "writing the pid to {} failed: {}", path.string(), errno_text());
  }
  return fd;
}

}  // namespace

std::filesystem::path WriterLock::output_lock_path(const std::filesystem::path& output_dir) {
  // "..": kubelet's AtomicWriter and ours keep their own entries under that
  // prefix, and no published file name may start with it.
  return output_dir / "..certswap.lock";
}

Result<WriterLock> WriterLock::acquire(const std::filesystem::path& output_dir,
                                       const std::filesystem::path& state_dir,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  UniqueFd output_lock;
  // A target without an output directory (a Kubernetes Secret) has only its
  // state directory here.
  if (!output_dir.empty()) {
    if (auto r = make_dir(output_dir, 0755); !r) return std::unexpected(r.error());
    auto output = lock_file(output_lock_path(output_dir), deadline, timeout);
    if (!output) return std::unexpected(output.error());
    output_lock = std::move(*output);
  }
  if (auto r = make_dir(state_dir.parent_path(), 0755); !r) return std::unexpected(r.error());
  if (auto r = make_dir(state_dir, 0700); !r) return std::unexpected(r.error());
  auto state = lock_file(state_dir / "lock", deadline, timeout);
  if (!state) return std::unexpected(state.error());
  return WriterLock(std::move(output_lock), std::move(*state));
}

}  // namespace certswap
