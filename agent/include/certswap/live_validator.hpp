#pragma once
// Proves a credential set against the real brokers before anything live is
// touched: a librdkafka client built from the in-memory PEMs asks for metadata.
#include <chrono>
#include <functional>
#include <string>

#include "certswap/credential.hpp"

namespace certswap {

enum class LiveVerdict {
  Accepted,      // the broker completed mTLS and answered
  Rejected,      // TLS or authentication failed: never swap this set
  Inconclusive,  // unreachable or timed out: nothing is known
};

struct LiveResult {
  LiveVerdict verdict;
  std::string detail;  // librdkafka's own words for the failure, or the broker count
  std::chrono::milliseconds elapsed{0};  // from the start until the verdict
  // Apart, because neither is the broker's time: building the client (TLS
  // context, the set's key) and rd_kafka_destroy (joining its threads).
  std::chrono::microseconds client_setup{0};
  std::chrono::microseconds teardown{0};
};

// `stop`, when given, is asked between metadata requests (every 250 ms at
// most): true ends the check at once as inconclusive (the agent is stopping).
LiveResult validate_live(const CredentialSet& set, const std::string& bootstrap,
                         std::chrono::milliseconds timeout, const std::function<bool()>& stop = {});

std::string_view to_string(LiveVerdict verdict);

}  // namespace certswap
