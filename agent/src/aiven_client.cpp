#include "certswap/aiven_client.hpp"

#include <nlohmann/json.hpp>

namespace certswap {
namespace {

using nlohmann::json;

// The API's own words are the most useful part of an error: quote them.
std::string api_message(const std::string& body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return body.size() > 200 ? body.substr(0, 200) + "..." : body;
}

std::string status_hint(long status) {
  switch (status) {
    case 401:
      return " (the API token is missing or invalid)";
    case 403:
      return " (the token is not allowed to do this: check the token and project membership)";
    case 404:
      return " (check the project, service and user names)";
    case 429:
      return " (rate limited)";
    default:
      return status >= 500 ? " (Aiven API error; it will be retried later)" : "";
  }
}

Result<std::string> required_string(const json& object, const char* field,
                                    const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(ErrorKind::Api, "response to {} has no \"{}\" string", where, field);
  }
  return it->get<std::string>();
}

Result<ServiceUser> parse_user(const json& response, const std::string& where) {
  auto user_it = response.find("user");
  if (user_it == response.end() || !user_it->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"user\" object", where);
  }
  const json& u = *user_it;
  ServiceUser user;
  auto name = required_string(u, "username", where);
  if (!name) return std::unexpected(name.error());
  auto cert = required_string(u, "access_cert", where);
  if (!cert) return std::unexpected(cert.error());
  auto key = required_string(u, "access_key", where);
  if (!key) return std::unexpected(key.error());
  user.username = *name;
  user.access_cert = *cert;
  user.access_key = *key;
  if (auto it = u.find("access_cert_not_valid_after_time"); it != u.end() && it->is_string()) {
    user.access_cert_not_valid_after_time = it->get<std::string>();
  }
  if (auto it = u.find("expiring_cert_not_valid_after_time"); it != u.end() && it->is_string()) {
    user.expiring_cert_not_valid_after_time = it->get<std::string>();
  }
  return user;
}

}  // namespace

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

AivenClient::AivenClient(HttpOptions http, std::string token)
    : http_(std::move(http)), auth_header_("authorization: aivenv1 " + token) {}

Result<json> AivenClient::call(const std::string& method, const std::string& path,
                               const std::string& body, bool retry) {
  const std::string where = method + " " + path;
  std::vector<std::string> headers{auth_header_, "accept: application/json"};
  if (!body.empty()) headers.emplace_back("content-type: application/json");
  auto response = http_.request(method, path, body, headers, retry);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) {
    return fail(ErrorKind::Api, "{} failed with HTTP {}: \"{}\"{}", where, response->status,
                api_message(response->body), status_hint(response->status));
  }
  if (response->status == 204 || response->body.empty()) return json::object();
  auto parsed = json::parse(response->body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return fail(ErrorKind::Api,
                "response to {} is not a JSON object ({} bytes; truncated or malformed)", where,
                response->body.size());
  }
  // The official client treats a truthy "error" in a 2xx body as a failure too.
  if (auto it = parsed.find("error");
      it != parsed.end() && !it->is_null() && *it != false && *it != "") {
    return fail(ErrorKind::Api, "{} answered an error: \"{}\"", where, api_message(response->body));
  }
  return parsed;
}

Result<ServiceUser> AivenClient::get_user(const std::string& project, const std::string& service,
                                          const std::string& user) {
  const auto path = user_path(project, service, user);
  auto response = call("GET", path, "", true);
  if (!response) return std::unexpected(response.error());
  return parse_user(*response, "GET " + path);
}

Result<std::string> AivenClient::get_project_ca(const std::string& project) {
  const auto path = fmt::format("/v1/project/{}/kms/ca", url_encode_segment(project));
  auto response = call("GET", path, "", true);
  if (!response) return std::unexpected(response.error());
  return required_string(*response, "certificate", "GET " + path);
}

Result<ServiceAddress> AivenClient::get_service_address(const std::string& project,
                                                        const std::string& service) {
  const auto path = fmt::format("/v1/project/{}/service/{}", url_encode_segment(project),
                                url_encode_segment(service));
  const std::string where = "GET " + path;
  auto response = call("GET", path, "", true);
  if (!response) return std::unexpected(response.error());
  auto svc = response->find("service");
  if (svc == response->end() || !svc->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"service\" object", where);
  }
  // Prefer the kafka component that authenticates with certificates; the
  // service_uri is what `avn service user-kafka-java-creds` uses otherwise.
  if (auto comps = svc->find("components"); comps != svc->end() && comps->is_array()) {
    for (const auto& c : *comps) {
      if (c.value("component", "") == "kafka" &&
          c.value("kafka_authentication_method", "certificate") == "certificate" &&
          c.contains("host") && c.contains("port") && c["port"].is_number_integer()) {
        return ServiceAddress{fmt::format("{}:{}", c.value("host", ""), c["port"].get<int>())};
      }
    }
  }
  auto uri = required_string(*svc, "service_uri", where);
  if (!uri) return std::unexpected(uri.error());
  return ServiceAddress{*uri};
}

Result<void> AivenClient::acknowledge_renewal(const std::string& project,
                                              const std::string& service, const std::string& user) {
  // Idempotent upstream, so retrying after a lost response is safe.
  auto response = call("PUT", user_path(project, service, user),
                       R"({"operation":"acknowledge-renewal"})", true);
  if (!response) return std::unexpected(response.error());
  return {};
}

Result<ServiceUser> AivenClient::reset_credentials(const std::string& project,
                                                   const std::string& service,
                                                   const std::string& user) {
  const auto path = user_path(project, service, user);
  // Not retried: a second reset would replace the pair the first one made.
  auto response = call("PUT", path, R"({"operation":"reset-credentials"})", false);
  if (!response) return std::unexpected(response.error());
  return parse_user(*response, "PUT " + path + " (reset-credentials)");
}

}  // namespace certswap
