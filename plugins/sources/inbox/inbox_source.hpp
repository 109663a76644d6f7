#pragma once
#include <sys/types.h>

#include <ctime>
#include <filesystem>
#include <optional>
#include <vector>

#include "certswap/aiven_client.hpp"
#include "certswap/config.hpp"
#include "certswap/source.hpp"

namespace certswap::plugins {

// A set dropped into a directory: by `avn service user-creds-download -d`,
// a mounted Secret, or a person holding a view-once credential. The files
// stay in the inbox until the set is live, so nothing is lost if a step
// fails; then the files that were taken are removed, and only those: a drop
// that replaced one of them meanwhile stays for the next check. When the
// target also names the Aiven user, a pending renewal of exactly this
// certificate is acknowledged upstream.
class InboxSource final : public Source {
 public:
  InboxSource(std::filesystem::path inbox, AivenClient* api, const TargetConfig& target);
  Result<Fetched> fetch() override;
  Result<Fetched> reset_credentials() override;
  Result<std::string> bootstrap() override;
  bool can_acknowledge() const override { return api_ != nullptr; }
  Result<void> acknowledge() override;
  Result<void> consumed() override;
  // With a named user: the user, the service's address, the acknowledgement.
  std::chrono::milliseconds upstream_bound() const override {
    return api_ ? 3 * api_->request_bound() : std::chrono::milliseconds(0);
  }
  std::optional<std::filesystem::path> watch_dir() const override { return inbox_; }

 private:
  // Which file was read: a drop that lands later is a different inode (a
  // rename) or a newer modification (a rewrite in place).
  struct Taken {
    std::filesystem::path path;
    dev_t dev = 0;
    ino_t ino = 0;
    timespec mtime{};
    off_t size = 0;
  };
  Result<std::string> take(const std::filesystem::path& path);

  std::filesystem::path inbox_;
  AivenClient* api_;  // null unless the target names project, service and user
  std::string project_, service_, user_, bootstrap_;
  // The listener to ask the API for, as the aiven source does.
  std::string route_, privatelink_id_;
  std::vector<Taken> taken_;
};

}  // namespace certswap::plugins
