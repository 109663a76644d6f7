#include "certswap/aiven_client.hpp"

#include <fmt/format.h>

#include <cctype>

#include "certswap/request_bound.hpp"

namespace certswap {

std::string url_encode_segment(std::string_view segment) {
  std::string out;
  for (unsigned char c : segment) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string AivenClient::user_path(const std::string& project, const std::string& service,
                                   const std::string& user) {
  return fmt::format("/v1/project/{}/service/{}/user/{}", url_encode_segment(project),
                     url_encode_segment(service), url_encode_segment(user));
}

std::chrono::milliseconds AivenClient::request_bound() const {
  return certswap::request_bound(http_.options());
}

AivenClient::AivenClient(HttpOptions http, std::string token)
    : http_(std::move(http)), auth_header_("authorization: aivenv1 " + token) {}

Result<std::string> AivenClient::call(const std::string& method, const std::string& path,
                                      const std::string& body, bool retry,
                                      std::string_view forbidden_hint) {
  std::vector<std::string> headers{auth_header_, "accept: application/json"};
  if (!body.empty()) headers.emplace_back("content-type: application/json");
  auto response = http_.request(method, path, body, headers, retry);
  if (!response) return std::unexpected(response.error());
  if (auto ok =
          check_response(response->status, response->body, method + " " + path, forbidden_hint);
      !ok) {
    return std::unexpected(ok.error());
  }
  return std::move(response->body);
}

Result<ServiceUser> AivenClient::get_user(const std::string& project, const std::string& service,
                                          const std::string& user) {
  const auto path = user_path(project, service, user) + "?include_secrets=true";
  auto body = call("GET", path, "", true,
                   "the token is invalid, or it may not read service secrets, which "
                   "include_secrets=true asks for: give it service:secrets:read, or the admin, "
                   "operator or developer role");
  if (!body) return std::unexpected(body.error());
  return decode_user_response(*body, "GET " + path);
}

void AivenClient::new_pass() {
  std::lock_guard lock(cache_mutex_);
  ++pass_;
}

template <class T, class Fetch>
Result<T> AivenClient::once_per_pass(Cache<T>& cache, const std::string& key, Fetch fetch) {
  Cached<T>* entry = nullptr;
  std::uint64_t pass = 0;
  {
    std::lock_guard lock(cache_mutex_);
    if (pass_ == 0) return fetch();
    pass = pass_;
    auto& slot = cache[key];
    if (!slot) slot = std::make_unique<Cached<T>>();
    entry = slot.get();  // entries are never erased: the pointer stays valid
  }
  std::lock_guard fetching(entry->fetching);
  if (entry->pass == pass) return entry->value;
  auto answer = fetch();
  if (answer) {
    entry->value = *answer;
    entry->pass = pass;
  }
  return answer;
}

Result<std::string> AivenClient::get_project_ca(const std::string& project) {
  return once_per_pass(cas_, project, [&] { return fetch_project_ca(project); });
}

Result<std::string> AivenClient::fetch_project_ca(const std::string& project) {
  const auto path = fmt::format("/v1/project/{}/kms/ca", url_encode_segment(project));
  auto body = call("GET", path, "", true);
  if (!body) return std::unexpected(body.error());
  return decode_ca_response(*body, "GET " + path);
}

Result<ServiceAddress> AivenClient::get_service_address(const std::string& project,
                                                        const std::string& service,
                                                        std::string_view route) {
  // '/' cannot occur in an encoded segment, so the key is unambiguous.
  const auto key = fmt::format("{}/{}/{}", url_encode_segment(project), url_encode_segment(service),
                               url_encode_segment(route));
  return once_per_pass(addresses_, key,
                       [&] { return fetch_service_address(project, service, route); });
}

Result<ServiceAddress> AivenClient::fetch_service_address(const std::string& project,
                                                          const std::string& service,
                                                          std::string_view route) {
  const auto path = fmt::format("/v1/project/{}/service/{}", url_encode_segment(project),
                                url_encode_segment(service));
  auto body = call("GET", path, "", true);
  if (!body) return std::unexpected(body.error());
  return decode_service_response(*body, "GET " + path, route);
}

Result<void> AivenClient::acknowledge_renewal(const std::string& project,
                                              const std::string& service, const std::string& user) {
  // Idempotent upstream, so retrying after a lost response is safe.
  auto response = call("PUT", user_path(project, service, user),
                       R"({"operation":"acknowledge-renewal"})", true);
  if (!response) return std::unexpected(response.error());
  return {};
}

Result<std::optional<ServiceUser>> AivenClient::reset_credentials(const std::string& project,
                                                                  const std::string& service,
                                                                  const std::string& user) {
  const auto path = user_path(project, service, user);
  // Not retried: a second reset would replace the pair the first one made.
  auto body = call("PUT", path, R"({"operation":"reset-credentials"})", false);
  if (!body) return std::unexpected(body.error());
  return decode_modify_response_user(*body, user);
}

}  // namespace certswap
