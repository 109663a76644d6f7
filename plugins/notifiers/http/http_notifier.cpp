#include "notifiers/http/http_notifier.hpp"

#include <nlohmann/json.hpp>

namespace certswap::plugins {

namespace {
HttpOptions options_for(std::string url, std::chrono::milliseconds timeout) {
  HttpOptions options;
  options.base_url = std::move(url);
  options.total_timeout = timeout;
  // The app's reload endpoint is usually plain HTTP on loopback; no secret is sent.
  options.allow_plain_http = true;
  return options;
}
}  // namespace

HttpNotifier::HttpNotifier(std::string url, std::chrono::milliseconds timeout)
    : url_(url), http_(options_for(std::move(url), timeout)) {}

Result<void> HttpNotifier::notify(const SwapEvent& event) {
  nlohmann::json body{{"event", "certificate-swapped"},          {"target", event.target},
                      {"output_dir", event.output_dir.string()}, {"generation", event.generation},
                      {"fingerprint", event.fingerprint},        {"not_after", event.not_after}};
  auto response = http_.request("POST", "", body.dump(), {"content-type: application/json"}, true);
  if (!response) return fail(ErrorKind::Notify, "http notifier: {}", response.error().message);
  if (response->status < 200 || response->status >= 300) {
    return fail(ErrorKind::Notify, "http notifier: POST {} answered HTTP {}", url_,
                response->status);
  }
  return {};
}

}  // namespace certswap::plugins
