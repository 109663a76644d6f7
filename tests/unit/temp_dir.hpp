#pragma once
// A scratch directory per test, removed at the end, and the mode of a path.
#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <string>

namespace certswap_test {

struct TempDir {
  std::filesystem::path path;
  // `create`: make the directory now (some tests want the store to make it).
  explicit TempDir(const std::string& prefix = "certswap-unit", bool create = false)
      : path(std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(std::random_device{}()))) {
    if (create) std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

}  // namespace certswap_test
