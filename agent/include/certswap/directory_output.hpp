#pragma once
// The output directory: AtomicStore's generation directories and `..data`
// link. A directory of plain files (what `avn service user-creds-download`
// leaves) is a live set; its first publish adopts it byte for byte.
#include "certswap/atomic_store.hpp"
#include "certswap/config.hpp"
#include "certswap/output.hpp"

namespace certswap {

class DirectoryOutput : public Output {
 public:
  explicit DirectoryOutput(AtomicStore store, std::vector<std::string> names)
      : store_(std::move(store)), names_(std::move(names)) {}

  std::string describe() const override { return store_.dir().string(); }
  std::string describe_version(const std::string& generation) const override {
    return (store_.dir() / "..data").string() + " -> " + generation;
  }
  Result<std::map<std::string, std::string>> read_live(
      const std::vector<std::string>& names) const override {
    return store_.read_live(names);
  }
  bool ever_held_a_set(const std::vector<std::string>& names) const override {
    return store_.ever_held_a_set(names);
  }
  std::optional<std::string> attributes_differ(
      const std::vector<StoredFile>& files) const override {
    return store_.attributes_differ(files);
  }
  Result<std::string> publish(const std::vector<StoredFile>& files, const PublishedCert&) override {
    // Plain files become generation + links first, byte for byte, so that
    // the publish is the same single rename as any other.
    if (auto adopted = store_.adopt_plain_files(names_); !adopted)
      return std::unexpected(adopted.error());
    return store_.publish(files);
  }
  std::optional<std::string> current_generation() const override {
    return store_.current_generation();
  }
  Result<void> prune(int keep) override { return store_.prune(keep); }

 private:
  AtomicStore store_;
  std::vector<std::string> names_;  // the format's public names
};

// The target's output directory, as its configuration asks.
Result<std::unique_ptr<Output>> open_directory_output(const TargetConfig& target,
                                                      std::vector<std::string> names,
                                                      OutputAccess access);

}  // namespace certswap
