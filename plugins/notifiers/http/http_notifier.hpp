#pragma once
#include <string>

#include "certswap/http_client.hpp"
#include "certswap/notifier.hpp"

namespace certswap::plugins {

// POSTs the swap event as JSON; 5xx, 429 and transport errors are retried
// with backoff, any other non-2xx answer fails the notification.
class HttpNotifier final : public Notifier {
 public:
  HttpNotifier(std::string url, std::chrono::milliseconds timeout);
  std::string name() const override { return "http " + url_; }
  Result<void> notify(const SwapEvent& event) override;

 private:
  std::string url_;
  HttpClient http_;
};

}  // namespace certswap::plugins
