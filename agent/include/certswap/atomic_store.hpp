#pragma once
// The live credential directory, laid out like kubelet's AtomicWriter and made
// durable (fsync of files, generation directory and parent):
//
//   dir/..2026_11_24_10_00_00.123456789/{service.cert,service.key,ca.pem,...}
//   dir/..data         -> ..2026_11_24_10_00_00.123456789   (relative symlink)
//   dir/service.cert   -> ..data/service.cert               (one per name, created once)
//
// Applications open dir/<name>; a publish flips every name at once with one
// rename(2) of `..data`. Readers that need a matched cert/key pair should
// resolve `..data` once and read both files through it.
//
// Only one AtomicStore may write a directory at a time: writers hold the
// target's WriterLock; readers use open_readonly.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "certswap/error.hpp"
#include "certswap/secret_string.hpp"
#include "certswap/unique_fd.hpp"

namespace certswap {

struct StoredFile {
  std::string name;      // plain file name: no '/', not starting with ".."
  SecretString content;  // wiped when dropped: the key is one of these
  bool secret;           // secret → StoreOptions::key_mode, else public_mode
};

struct StoreOptions {
  mode_t key_mode = 0600;
  mode_t public_mode = 0644;
  std::optional<uid_t> uid;  // owner for files in a generation, if set
  std::optional<gid_t> gid;
  int keep_generations = 2;  // what prune() is usually called with
};

class AtomicStore {
 public:
  // Creates `dir` (0755) if missing, removes a stale `..data_tmp` and orphan
  // generations left by a crashed publish (newer than `..data`'s target, or
  // all of them if `..data` does not exist yet). Older generations are kept
  // as rollback candidates. Plain files already in `dir` (a set put there by
  // hand) are left alone: apps keep seeing them until the first publish.
  // Refuses a `..data` that is not a symlink to a generation in `dir`.
  // Writers only, under the target's WriterLock (writer_lock.hpp): the repair
  // would delete a generation another writer is about to publish.
  static Result<AtomicStore> open(std::filesystem::path dir, StoreOptions opts);
  // For readers (`status`, readiness): creates, repairs and removes nothing.
  static Result<AtomicStore> open_readonly(std::filesystem::path dir);

  // Writes a new generation and makes it live; returns its name. Refuses,
  // before any change, names that are symlinks pointing anywhere but
  // `..data/<name>`, and directories in the way.
  Result<std::string> publish(const std::vector<StoredFile>& files);

  std::optional<std::string> current_generation() const;  // target of ..data
  // name -> content for each public link, read through one resolution of
  // ..data, and for each of `plain_names` that is a regular file (a set put
  // there by hand, or one whose adoption a crash interrupted). A link that
  // dangles (`..data` or the generation's file missing) is left out: no
  // reader gets it.
  Result<std::map<std::string, std::string>> read_live(
      const std::vector<std::string>& plain_names = {}) const;
  // How the live files differ from what publish(files) would leave in name,
  // mode or owner (content is the format's business); nullopt when they don't.
  std::optional<std::string> attributes_differ(const std::vector<StoredFile>& files) const;
  // Which of `names` are regular files rather than our links.
  std::vector<std::string> plain_files(const std::vector<std::string>& names) const;
  // Turns the plain files among `names` into generation + links without
  // changing a byte that any reader sees: a generation with their exact
  // content goes live first, then each name is replaced by its link, one
  // rename each. Idempotent, so a run killed half-way is finished by the next.
  Result<void> adopt_plain_files(const std::vector<std::string>& names);
  // Whether anything a reader could take for a set is or was here: `..data`,
  // a generation, or any of `names` (a file, a link, even a dangling one).
  // False only for a directory no app can have read a set from.
  bool ever_held_a_set(const std::vector<std::string>& names) const;
  std::vector<std::string> generations() const;  // oldest first
  Result<void> activate(const std::string& generation);
  // Keeps the `keep` newest generations including the current one (at least
  // the current one); never removes the current one.
  Result<void> prune(int keep);
  // Makes each name a link to ..data/<name> again, replacing whatever took
  // its place (deleted, a regular file, a link elsewhere) without following it.
  Result<void> repair_links(const std::vector<std::string>& names);
  const std::filesystem::path& dir() const { return dir_; }

 private:
  AtomicStore(std::filesystem::path dir, StoreOptions opts, UniqueFd fd)
      : dir_(std::move(dir)), opts_(opts), dir_fd_(std::move(fd)) {}

  Result<void> point_data_at(const std::string& generation);
  Result<void> link_names(const std::vector<std::string>& names);
  Result<void> remove_generation(const std::string& generation);
  Result<std::string> make_generation_dir();
  Result<std::string> write_generation(const std::vector<StoredFile>& files);
  // The one rule for a file's mode: publish applies it, attributes_differ checks it.
  mode_t mode_for(const StoredFile& file) const;

  std::filesystem::path dir_;
  StoreOptions opts_;
  UniqueFd dir_fd_;
};

}  // namespace certswap
