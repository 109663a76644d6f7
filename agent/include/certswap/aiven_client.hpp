#pragma once
// The subset of the Aiven REST API that certswap uses (see shared/aiven-api.md).
#include <string>

#include "certswap/aiven_response.hpp"
#include "certswap/error.hpp"
#include "certswap/http_client.hpp"

namespace certswap {

class AivenClient {
 public:
  // `token` is kept in memory only and sent as `authorization: aivenv1 <token>`.
  AivenClient(HttpOptions http, std::string token);

  Result<ServiceUser> get_user(const std::string& project, const std::string& service,
                               const std::string& user);
  Result<std::string> get_project_ca(const std::string& project);
  Result<ServiceAddress> get_service_address(const std::string& project,
                                             const std::string& service);
  Result<void> acknowledge_renewal(const std::string& project, const std::string& service,
                                   const std::string& user);
  Result<ServiceUser> reset_credentials(const std::string& project, const std::string& service,
                                        const std::string& user);

  static std::string user_path(const std::string& project, const std::string& service,
                               const std::string& user);

 private:
  // The body of a checked 2xx answer (see check_response).
  Result<std::string> call(const std::string& method, const std::string& path,
                           const std::string& body, bool retry);
  HttpClient http_;
  std::string auth_header_;
};

// Percent-encodes one path segment (RFC 3986 unreserved characters pass).
std::string url_encode_segment(std::string_view segment);

}  // namespace certswap
