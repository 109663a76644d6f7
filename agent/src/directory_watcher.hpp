#pragma once
// inotify on directories that may be replaced: a watch follows the path, not
// the inode it had when it was added. When the directory is deleted or moved
// away (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED), the watch moves to whatever
// has that path now or, while nothing has, to the parent, to see it come back.
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>

#include "certswap/error.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap {

class DirectoryWatcher {
 public:
  static Result<DirectoryWatcher> create();

  int fd() const { return fd_.get(); }

  // Watches `dir` for `events` (IN_* flags) under `key`, replacing what `key`
  // watched before. Idempotent; a directory that was missing is tried again.
  void watch(int key, const std::filesystem::path& dir, std::uint32_t events);
  void unwatch(int key);

  // Reads what is pending (the fd is non-blocking): the keys whose directory
  // saw one of its events, was replaced, or came back. A queue overflow
  // reports every key, since any event may have been lost.
  std::set<int> drain();

  // Whether `key`'s directory itself is watched now (not only its parent).
  bool attached(int key) const;

 private:
  struct Entry {
    std::filesystem::path dir;
    std::uint32_t events = 0;
    int wd = -1;
    int parent_wd = -1;  // while `dir` is missing
  };
  explicit DirectoryWatcher(UniqueFd fd) : fd_(std::move(fd)) {}
  void attach(Entry& e);
  void release(int wd);

  UniqueFd fd_;
  std::map<int, Entry> entries_;
};

}  // namespace certswap
