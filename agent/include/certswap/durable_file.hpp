#pragma once
// Single files that survive a crash or power loss: either the old content or
// the new one is on disk afterwards, never a torn or empty file.
#include <sys/types.h>

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
// Refuses anything but a regular file (a FIFO would block, a device never end).
Result<std::string> read_all(int fd, const std::filesystem::path& what);
Result<void> write_all(int fd, std::string_view content, const std::filesystem::path& what);

}  // namespace certswap
