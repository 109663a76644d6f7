#include "directory_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace certswap {
namespace {
constexpr std::uint32_t kGone = IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF;
// IN_MASK_ADD: two keys may share an inode (an inbox inside the output
// directory, the parent of two siblings); each one's mask must survive.
constexpr std::uint32_t kAddFlags = IN_ONLYDIR | IN_MASK_ADD;
}  // namespace

Result<DirectoryWatcher> DirectoryWatcher::create() {
  UniqueFd fd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd) return fail(ErrorKind::Internal, "inotify_init1: {}", std::strerror(errno));
  return DirectoryWatcher(std::move(fd));
}

void DirectoryWatcher::watch(int key, const std::filesystem::path& dir, std::uint32_t events) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    if (it->second.dir == dir && it->second.events == events) {
      attach(it->second);
      return;
    }
    unwatch(key);
  }
  Entry& e = entries_[key];
  e.dir = dir;
  e.events = events;
  attach(e);
}

void DirectoryWatcher::unwatch(int key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  const Entry e = it->second;
  entries_.erase(it);
  release(e.wd);
  release(e.parent_wd);
}

bool DirectoryWatcher::attached(int key) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.wd >= 0;
}

void DirectoryWatcher::attach(Entry& e) {
  if (e.wd >= 0) return;
  const auto add_dir = [&] {
    e.wd = inotify_add_watch(fd_.get(), e.dir.c_str(), e.events | kGone | kAddFlags);
    return e.wd >= 0;
  };
  if (!add_dir() && e.parent_wd < 0) {
    e.parent_wd = inotify_add_watch(fd_.get(), e.dir.parent_path().c_str(),
                                    IN_CREATE | IN_MOVED_TO | kAddFlags);
    // It may have come back between the two calls, unseen by the parent watch.
    add_dir();
  }
  if (e.wd >= 0 && e.parent_wd >= 0) release(std::exchange(e.parent_wd, -1));
}

void DirectoryWatcher::release(int wd) {
  if (wd < 0) return;
  for (const auto& [key, e] : entries_) {
    if (e.wd == wd || e.parent_wd == wd) return;  // still someone else's
  }
  inotify_rm_watch(fd_.get(), wd);
}

std::set<int> DirectoryWatcher::drain() {
  std::set<int> changed;
  std::vector<int> lost;
  alignas(inotify_event) char buffer[8192];
  ssize_t n;
  while ((n = read(fd_.get(), buffer, sizeof buffer)) > 0) {
    for (char* p = buffer; p < buffer + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      if (ev->mask & IN_Q_OVERFLOW) {
        for (const auto& [key, e] : entries_) changed.insert(key);
        continue;
      }
      for (const auto& [key, e] : entries_) {
        if (ev->wd == e.wd) {
          if (ev->mask & kGone) {
            lost.push_back(key);
            changed.insert(key);
          } else if (ev->mask & e.events) {
            changed.insert(key);
          }
        } else if (ev->wd == e.parent_wd && ev->len > 0 && e.dir.filename() == ev->name) {
          changed.insert(key);
        }
      }
    }
  }
  // A moved directory keeps its watch under its new name; drop it (a deleted
  // one's is gone already) and watch the path again.
  for (int key : lost) {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.wd < 0) continue;
    const int wd = std::exchange(it->second.wd, -1);
    release(wd);
  }
  for (int key : changed) {
    if (auto it = entries_.find(key); it != entries_.end()) attach(it->second);
  }
  return changed;
}

}  // namespace certswap
