#pragma once
// HTTPS client for the Aiven API: libcurl underneath, TLS verification always
// on, retries with exponential backoff and jitter on 5xx, 429 (honouring
// Retry-After) and transport errors. Sleep and jitter are injected so tests
// don't wait and are deterministic. Thread-safe: each request takes an easy
// handle of its own from a pool, and the handles share one connection cache,
// TLS session cache and DNS cache (curl share interface), so concurrent
// targets reuse each other's keep-alive connections.
#include <chrono>
#include <cstddef>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "certswap/api_budget.hpp"
#include "certswap/error.hpp"
#include "certswap/secret_string.hpp"

namespace certswap {

struct RetryPolicy {
  int max_attempts = 4;
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{30'000};
};

struct HttpOptions {
  std::string base_url;  // e.g. https://api.aiven.io (no trailing slash)
  // Trusted instead of the system store (libcurl's CAINFO replaces it); empty = system store.
  std::string extra_ca_file;
  // The same as PEM text (a kubeconfig's certificate-authority-data); wins
  // over extra_ca_file.
  std::string ca_pem;
  // A client certificate and key for mutual TLS, as PEM text (a kubeconfig's
  // client-certificate-data); none when empty.
  std::string client_cert_pem;
  SecretString client_key_pem;
  // http:// URLs are refused unless this is set: the API token would travel in
  // clear text. Only a local endpoint (a notifier, a test emulator) needs it.
  bool allow_plain_http = false;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{30'000};
  // A larger response body is refused (not retried): every answer the agent
  // expects is a few kilobytes, and a broken or hostile server must not be
  // able to fill the memory.
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  // The limit of a streamed answer (request_streamed): the whole service
  // object, which lists every user with its certificate (and, until March
  // 2027, its key), is ~4.5 KiB a user, so 45 MiB with 10,000 users. It is
  // read as it arrives and never kept, so this guards time and bandwidth
  // against a hostile server, not memory; far above any real answer.
  std::size_t max_streamed_body_bytes = 256 * 1024 * 1024;
  RetryPolicy retry;
  // Asked about once a second while a transfer runs: true aborts it (a
  // long-lived watch that must end when certswap stops). None: never.
  std::function<bool()> cancelled;
  std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for
  std::function<double()> jitter;                        // in [0,1); default: random
  // The token's budget (api_budget.hpp), shared by every client of that
  // token: every attempt waits for it, and a 429 pauses it. None: unlimited.
  std::shared_ptr<ApiBudget> budget;
};

// How a streamed body ended, as its reader saw it.
enum class BodyEnd {
  Complete,   // every byte the server sent (or the reader stopped early)
  OverLimit,  // cut off at max_streamed_body_bytes
  Broken,     // the transfer failed after the status came; `failure` says how
};

struct StreamedResponse {
  long status = 0;
  BodyEnd end = BodyEnd::Complete;
  std::string failure;  // the transport error of a Broken body
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // `headers` are full header lines ("authorization: ..."); they are never logged.
  // Returns the final response of any status; an error only when no response
  // could be had (transport failure after every retry).
  Result<HttpResponse> request(const std::string& method, const std::string& path,
                               const std::string& body, const std::vector<std::string>& headers,
                               bool retry_on_failure);

  // Like request, but the body is handed to `read` as curl receives it, never
  // kept whole: for answers that grow with the account (the service object
  // lists every user). `read` is called once per attempt that gets a final
  // status (a 429 or 5xx that will be retried is dropped unread), with a
  // fresh stream each time; it may stop reading early. A body cut by a
  // retriable transport error is retried when `retry_on_failure` is set;
  // otherwise the result says how the body ended.
  using BodyReader = std::function<void(long status, std::istream& body)>;
  Result<StreamedResponse> request_streamed(const std::string& method, const std::string& path,
                                            const std::string& body,
                                            const std::vector<std::string>& headers,
                                            bool retry_on_failure, const BodyReader& read);

  const HttpOptions& options() const { return options_; }

  struct Handles;  // the easy handle pool and the share object (http_client.cpp)

 private:
  HttpOptions options_;
  std::unique_ptr<Handles> handles_;  // the easy handle pool and the share object
};

// A longer Retry-After is taken as this: no answer should park the agent for longer.
inline constexpr std::chrono::seconds kMaxRetryAfter{3600};

// Delay before attempt `attempt` (1-based) after a retriable failure; never
// more than policy.max_delay, whatever the inputs.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter,
                                        std::optional<std::chrono::seconds> retry_after);

}  // namespace certswap
