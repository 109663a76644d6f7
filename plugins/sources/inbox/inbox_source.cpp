#include "sources/inbox/inbox_source.hpp"

#include "certswap/cert_info.hpp"
#include "certswap/durable_file.hpp"

namespace certswap::plugins {
namespace {
constexpr const char* kNames[] = {"ca.pem", "service.cert", "service.key"};
}

InboxSource::InboxSource(std::filesystem::path inbox, AivenClient* api, const TargetConfig& target)
    : inbox_(std::move(inbox)),
      api_(api),
      project_(target.project),
      service_(target.service),
      user_(target.user),
      bootstrap_(target.bootstrap),
      route_(target.kafka_route) {}

Result<Fetched> InboxSource::fetch() {
  took_ = false;
  int present = 0;
  for (const char* name : kNames) present += std::filesystem::exists(inbox_ / name) ? 1 : 0;
  if (present == 0) {
    Fetched nothing;
    nothing.empty = true;
    return nothing;
  }
  if (present < 3) {
    // A drop in progress (or an incomplete one): wait for the whole set.
    return fail(ErrorKind::Invalid,
                "inbox {}: incomplete set (need ca.pem, service.cert and service.key)",
                inbox_.string());
  }
  Fetched fetched;
  for (auto [name, field] : {std::pair<const char*, std::string*>{"ca.pem", &fetched.set.ca_pem},
                             {"service.cert", &fetched.set.cert_pem},
                             {"service.key", &fetched.set.key_pem}}) {
    auto text = read_file(inbox_ / name);
    if (!text) return fail(ErrorKind::Io, "inbox: {}", text.error().message);
    *field = std::move(*text);
  }
  fetched.set.origin = "inbox " + inbox_.string();
  if (api_) {
    auto user = api_->get_user(project_, service_, user_);
    if (!user) return std::unexpected(user.error());
    auto upstream = inspect_certificate_pem(user->access_cert, "access_cert");
    auto dropped = inspect_certificate_pem(fetched.set.cert_pem, "inbox service.cert");
    fetched.renewal_pending = user->renewal_pending() && upstream && dropped &&
                              upstream->sha256_fingerprint == dropped->sha256_fingerprint;
  }
  took_ = true;
  return fetched;
}

Result<Fetched> InboxSource::reset_credentials() {
  return fail(ErrorKind::Usage, "the inbox source cannot reset credentials; use the aiven source");
}

Result<std::string> InboxSource::bootstrap() {
  if (!bootstrap_.empty()) return bootstrap_;
  if (api_) {
    auto address = api_->get_service_address(project_, service_, route_);
    if (!address) return std::unexpected(address.error());
    bootstrap_ = address->bootstrap;
    return bootstrap_;
  }
  return fail(ErrorKind::Usage,
              "the inbox source needs --bootstrap (or an Aiven project/service to ask)");
}

Result<void> InboxSource::acknowledge() {
  if (!api_)
    return fail(ErrorKind::Usage, "the inbox target names no Aiven user to acknowledge for");
  return api_->acknowledge_renewal(project_, service_, user_);
}

Result<void> InboxSource::consumed() {
  if (!took_) return {};
  for (const char* name : kNames) {
    std::error_code ec;
    std::filesystem::remove(inbox_ / name, ec);
    if (ec)
      return fail(ErrorKind::Io, "inbox: cannot remove {}: {}", (inbox_ / name).string(),
                  ec.message());
  }
  took_ = false;
  return {};
}

}  // namespace certswap::plugins
