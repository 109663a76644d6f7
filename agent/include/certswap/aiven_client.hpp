#pragma once
// The subset of the Aiven REST API that certswap uses (see shared/aiven-api.md).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "certswap/aiven_response.hpp"
#include "certswap/error.hpp"
#include "certswap/http_client.hpp"

namespace certswap {

class AivenClient {
 public:
  // `token` is kept in memory only and sent as `authorization: aivenv1 <token>`.
  AivenClient(HttpOptions http, std::string token);

  // Asks with include_secrets=true: from 1 March 2027 Aiven redacts access_key
  // otherwise (aiven-docs tools/api/secret-redaction.md).
  Result<ServiceUser> get_user(const std::string& project, const std::string& service,
                               const std::string& user);
  // Within a pass (see new_pass) asked once per project, however many targets
  // of that project ask, concurrently or not; before the first pass, every time.
  Result<std::string> get_project_ca(const std::string& project);
  // The sidecar starts checking a batch of targets: project CAs and service
  // addresses are asked afresh.
  void new_pass();
  // Like get_project_ca, once per pass per project, service and route: the
  // answer lists every user of the service, so 1,000 targets installing at
  // once would each fetch and parse megabytes for the same address.
  Result<ServiceAddress> get_service_address(const std::string& project, const std::string& service,
                                             std::string_view route = "dynamic",
                                             std::string_view privatelink_id = {});
  Result<void> acknowledge_renewal(const std::string& project, const std::string& service,
                                   const std::string& user);
  // Sent once, never retried. The answer is the service object (spec
  // ServiceUserCredentialsModifyResponse), so the new pair is read with
  // get_user afterwards; the pair in the answer, when it is not redacted, is
  // returned so that the caller can keep it at once.
  Result<std::optional<ServiceUser>> reset_credentials(const std::string& project,
                                                       const std::string& service,
                                                       const std::string& user);

  const std::shared_ptr<ApiBudget>& budget() const { return http_.options().budget; }

  // The longest one call may take, retries included (request_bound.hpp).
  std::chrono::milliseconds request_bound() const;

  static std::string user_path(const std::string& project, const std::string& service,
                               const std::string& user);

 private:
  // How an error names a request: the method and the full URL.
  std::string where(const std::string& method, const std::string& path) const;
  // The body of a checked 2xx answer (see check_response).
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body, bool retry,
                           std::string_view forbidden_hint = {});
  // Like call, for an answer that may be megabytes: a 2xx body goes to
  // `decode(std::istream&)` as it arrives; another status is an error.
  template <class Decode>
  Result<StreamedResponse> call_streamed(const std::string& method, const std::string& path,
                                         const std::string& body, bool retry, Decode decode);
  // PUT .../user/{user} with `operation`; `wanted_user`'s pair is read from the answer.
  Result<ModifyAnswer> modify_user(const std::string& project, const std::string& service,
                                   const std::string& user, const std::string& operation,
                                   bool retry, const std::string& wanted_user);
  Result<std::string> fetch_project_ca(const std::string& project);
  Result<ServiceAddress> fetch_service_address(const std::string& project,
                                               const std::string& service, std::string_view route,
                                               std::string_view privatelink_id);

  template <class T>
  struct Cached {
    std::uint64_t pass = 0;
    T value;
    std::mutex fetching;  // held by the one asking upstream; the others wait for its answer
  };
  template <class T>
  using Cache = std::map<std::string, std::unique_ptr<Cached<T>>>;
  // The answer of `fetch` for `key`, asked upstream once per pass (every time
  // before the first); failures are not kept.
  template <class T, class Fetch>
  Result<T> once_per_pass(Cache<T>& cache, const std::string& key, Fetch fetch);

  HttpClient http_;
  std::string auth_header_;
  std::mutex cache_mutex_;  // guards pass_ and the maps, not the entries' contents
  std::uint64_t pass_ = 0;
  Cache<std::string> cas_;
  Cache<ServiceAddress> addresses_;
};

// Percent-encodes one path segment (RFC 3986 unreserved characters pass).
std::string url_encode_segment(std::string_view segment);

}  // namespace certswap
