#pragma once
// How long one HttpClient::request may take at most, retries included: every
// attempt runs into its total timeout and every pause is the longest the
// policy allows (Retry-After is capped at max_delay too). The sidecar adds
// these up into the bound of a check (daemon.hpp).
#include <algorithm>
#include <chrono>

#include "certswap/http_client.hpp"

namespace certswap {

inline std::chrono::milliseconds request_bound(const HttpOptions& http) {
  const int attempts = std::max(1, http.retry.max_attempts);
  return attempts * http.total_timeout + (attempts - 1) * http.retry.max_delay;
}

}  // namespace certswap
