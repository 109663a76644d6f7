#pragma once
// Single files that survive a crash or power loss: either the old content or
// the new one is on disk afterwards, never a torn or empty file.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "certswap/error.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap {

// Replaces `path` with `content` (mode `mode`, umask ignored). A symlink at
// `path` is replaced, never followed.
Result<void> write_file_durably(const std::filesystem::path& path, std::string_view content,
                                mode_t mode);

// Reads a whole regular file; refuses a symlink at `path` and never blocks on a FIFO.
Result<std::string> read_file(const std::filesystem::path& path);

// Helpers shared by the store and the journal, all on raw descriptors.
Result<UniqueFd> open_directory(const std::filesystem::path& path);
Result<void> fsync_fd(int fd, const std::filesystem::path& what);

// Creates `name` under `dir_fd` (O_EXCL|O_NOFOLLOW, `mode` set before the first
// byte), writes `content` and fsyncs it. Not atomic by itself: for a directory
// that is published (renamed) only after its own fsync. `what` names it in errors.
Result<void> write_new_file(int dir_fd, const char* name, std::string_view content, mode_t mode,
                            const std::filesystem::path& what);

// Every fsync_fd of the calling thread so far: on a virtual disk they are most
// of a rotation's local time, and the disk's, so a benchmark reports them apart.
struct FsyncStats {
  std::uint64_t calls = 0;
  std::chrono::microseconds waited{0};
};
FsyncStats fsync_stats();
// Refuses anything but a regular file (a FIFO would block, a device never end).
Result<std::string> read_all(int fd, const std::filesystem::path& what);
Result<void> write_all(int fd, std::string_view content, const std::filesystem::path& what);

}  // namespace certswap
