#include "sources/aiven/aiven_source.hpp"

namespace certswap::plugins {

AivenSource::AivenSource(AivenClient& api, const TargetConfig& target)
    : api_(api),
      project_(target.project),
      service_(target.service),
      user_(target.user),
      route_(target.kafka_route),
      privatelink_id_(target.privatelink_connection_id) {
  if (!target.bootstrap.empty()) configured_bootstrap_ = target.bootstrap;
}

Result<Fetched> AivenSource::with_project_ca(ServiceUser user, std::string origin) {
  auto ca = api_.get_project_ca(project_);
  if (!ca) return std::unexpected(ca.error());
  Fetched fetched;
  fetched.set.cert_pem = std::move(user.access_cert);
  fetched.set.key_pem = std::move(user.access_key);
  fetched.set.ca_pem = std::move(*ca);
  fetched.set.origin =
      fmt::format("{} and GET /v1/project/{}/kms/ca", origin, url_encode_segment(project_));
  fetched.renewal_pending = user.renewal_pending();
  fetched.renews_not_after = user.expiring_cert_not_valid_after_time;
  return fetched;
}

Result<Fetched> AivenSource::fetch() {
  auto user = api_.get_user(project_, service_, user_);
  if (!user) return std::unexpected(user.error());
  return with_project_ca(std::move(*user),
                         "GET " + AivenClient::user_path(project_, service_, user_));
}

Result<Fetched> AivenSource::reset_credentials() {
  auto user = api_.reset_credentials(project_, service_, user_);
  if (!user) return std::unexpected(user.error());
  if (!*user) {
    Fetched nothing;
    nothing.empty = true;
    return nothing;
  }
  return with_project_ca(
      std::move(**user),
      "PUT " + AivenClient::user_path(project_, service_, user_) + " (reset-credentials)");
}

Result<std::string> AivenSource::bootstrap() {
  if (configured_bootstrap_) return *configured_bootstrap_;
  auto address = api_.get_service_address(project_, service_, route_, privatelink_id_);
  if (!address) return std::unexpected(address.error());
  return std::move(address->bootstrap);
}

Result<void> AivenSource::acknowledge() {
  return api_.acknowledge_renewal(project_, service_, user_);
}

}  // namespace certswap::plugins
