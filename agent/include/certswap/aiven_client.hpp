#pragma once
// The subset of the Aiven REST API that certswap uses (see shared/aiven-api.md).
#include <chrono>
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
  Result<std::string> get_project_ca(const std::string& project);
  Result<ServiceAddress> get_service_address(const std::string& project, const std::string& service,
                                             std::string_view route = "dynamic");
  Result<void> acknowledge_renewal(const std::string& project, const std::string& service,
                                   const std::string& user);
  // Sent once, never retried. The answer is the service object (spec
  // ServiceUserCredentialsModifyResponse), so the new pair is read with
  // get_user afterwards; the pair in the answer, when it is not redacted, is
  // returned so that the caller can keep it at once.
  Result<std::optional<ServiceUser>> reset_credentials(const std::string& project,
                                                       const std::string& service,
                                                       const std::string& user);

  // The longest one call may take, retries included (request_bound.hpp).
  std::chrono::milliseconds request_bound() const;

  static std::string user_path(const std::string& project, const std::string& service,
                               const std::string& user);

 private:
  // The body of a checked 2xx answer (see check_response).
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body, bool retry,
                           std::string_view forbidden_hint = {});
  HttpClient http_;
  std::string auth_header_;
};

// Percent-encodes one path segment (RFC 3986 unreserved characters pass).
std::string url_encode_segment(std::string_view segment);

}  // namespace certswap
