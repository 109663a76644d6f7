#pragma once
// The subset of the Aiven REST API that certswap uses (see shared/aiven-api.md).
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "certswap/error.hpp"
#include "certswap/http_client.hpp"

namespace certswap {

struct ServiceUser {
  std::string username;
  std::string access_cert;  // PEM; describes the newest pair while a renewal is pending
  std::string access_key;   // PEM; never logged
  std::string access_cert_not_valid_after_time;
  // Set only while a renewal waits for acknowledgement: the end of the old certificate.
  std::optional<std::string> expiring_cert_not_valid_after_time;

  bool renewal_pending() const { return expiring_cert_not_valid_after_time.has_value(); }
};

struct ServiceAddress {
  std::string bootstrap;  // host:port of the Kafka SSL listener
};

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
  Result<nlohmann::json> call(const std::string& method, const std::string& path,
                              const std::string& body, bool retry);
  HttpClient http_;
  std::string auth_header_;
};

// Percent-encodes one path segment (RFC 3986 unreserved characters pass).
std::string url_encode_segment(std::string_view segment);

}  // namespace certswap
