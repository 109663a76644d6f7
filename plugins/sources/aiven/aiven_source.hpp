#pragma once
#include <optional>

#include "certswap/aiven_client.hpp"
#include "certswap/config.hpp"
#include "certswap/source.hpp"

namespace certswap::plugins {

// The default source: the service user's current pair and the project CA.
class AivenSource final : public Source {
 public:
  AivenSource(AivenClient& api, const TargetConfig& target);
  Result<Fetched> fetch() override;
  Result<Fetched> reset_credentials() override;
  Result<std::string> bootstrap() override;
  bool can_acknowledge() const override { return true; }
  Result<void> acknowledge() override;
  // The user, the project CA, the service's address, the acknowledgement.
  std::chrono::milliseconds upstream_bound() const override { return 4 * api_.request_bound(); }

 private:
  Result<Fetched> with_project_ca(ServiceUser user, std::string origin);
  AivenClient& api_;
  std::string project_, service_, user_, route_, privatelink_id_;
  // A configured --bootstrap stays fixed. Otherwise the service is asked on
  // every check, which the client answers once per pass (aiven_client.hpp),
  // like the project CA: a listener that moved is found by the next pass,
  // and the retry after an inconclusive check is a pass of its own.
  std::optional<std::string> configured_bootstrap_;
};

}  // namespace certswap::plugins
