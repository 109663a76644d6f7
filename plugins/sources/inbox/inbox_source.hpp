#pragma once
#include <filesystem>
#include <optional>

#include "certswap/aiven_client.hpp"
#include "certswap/config.hpp"
#include "certswap/source.hpp"

namespace certswap::plugins {

// A set dropped into a directory: by `avn service user-creds-download -d`,
// a mounted Secret, or a person holding a view-once credential. The files
// stay in the inbox until the set is live, so nothing is lost if a step
// fails; then they are removed. When the target also names the Aiven user,
// a pending renewal of exactly this certificate is acknowledged upstream.
class InboxSource final : public Source {
 public:
  InboxSource(std::filesystem::path inbox, AivenClient* api, const TargetConfig& target);
  Result<Fetched> fetch() override;
  Result<Fetched> reset_credentials() override;
  Result<std::string> bootstrap() override;
  bool can_acknowledge() const override { return api_ != nullptr; }
  Result<void> acknowledge() override;
  Result<void> consumed() override;
  std::optional<std::filesystem::path> watch_dir() const override { return inbox_; }

 private:
  std::filesystem::path inbox_;
  AivenClient* api_;  // null unless the target names project, service and user
  std::string project_, service_, user_, bootstrap_;
  std::string route_;  // the listener to ask the API for, as the aiven source does
  bool took_ = false;
};

}  // namespace certswap::plugins
