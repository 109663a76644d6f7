#include "certswap/aiven_response.hpp"

#include <nlohmann/json.hpp>

namespace certswap {
namespace {

using nlohmann::json;

// The API's own words are the most useful part of an error: quote them.
std::string api_message(std::string_view body) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_object()) {
    if (auto it = parsed.find("message"); it != parsed.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return body.size() > 200 ? std::string(body.substr(0, 200)) + "..." : std::string(body);
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

Result<json> parse_object(std::string_view body, const std::string& where) {
  if (body.empty()) return json::object();
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return fail(ErrorKind::Api,
                "response to {} is not a JSON object ({} bytes; truncated or malformed)", where,
                body.size());
  }
  return parsed;
}

Result<std::string> required_string(const json& object, const char* field,
                                    const std::string& where) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(ErrorKind::Api, "response to {} has no \"{}\" string", where, field);
  }
  return it->get<std::string>();
}

std::optional<std::string> optional_string(const json& object, const char* field) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

Result<void> check_response(long status, std::string_view body, const std::string& where) {
  if (status < 200 || status >= 300) {
    return fail(ErrorKind::Api, "{} failed with HTTP {}: \"{}\"{}", where, status,
                api_message(body), status_hint(status));
  }
  auto parsed = parse_object(body, where);
  if (!parsed) return std::unexpected(parsed.error());
  // The official client treats a truthy "error" in a 2xx body as a failure too.
  if (auto it = parsed->find("error");
      it != parsed->end() && !it->is_null() && *it != false && *it != "") {
    return fail(ErrorKind::Api, "{} answered an error: \"{}\"", where, api_message(body));
  }
  return {};
}

Result<ServiceUser> decode_user_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  auto user_it = response->find("user");
  if (user_it == response->end() || !user_it->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"user\" object", where);
  }
  const json& u = *user_it;
  auto name = required_string(u, "username", where);
  if (!name) return std::unexpected(name.error());
  auto cert = required_string(u, "access_cert", where);
  if (!cert) return std::unexpected(cert.error());
  auto key = required_string(u, "access_key", where);
  if (!key) return std::unexpected(key.error());
  ServiceUser user;
  user.username = *name;
  user.access_cert = *cert;
  user.access_key = *key;
  user.access_cert_not_valid_after_time =
      optional_string(u, "access_cert_not_valid_after_time").value_or("");
  user.expiring_cert_not_valid_after_time =
      optional_string(u, "expiring_cert_not_valid_after_time");
  return user;
}

Result<std::string> decode_ca_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  return required_string(*response, "certificate", where);
}

Result<ServiceAddress> decode_service_response(std::string_view body, const std::string& where) {
  auto response = parse_object(body, where);
  if (!response) return std::unexpected(response.error());
  auto svc = response->find("service");
  if (svc == response->end() || !svc->is_object()) {
    return fail(ErrorKind::Api, "response to {} has no \"service\" object", where);
  }
  // Prefer the kafka component that authenticates with certificates; the
  // service_uri is what `avn service user-kafka-java-creds` uses otherwise.
  // Components of another shape are skipped, not trusted.
  if (auto comps = svc->find("components"); comps != svc->end() && comps->is_array()) {
    for (const auto& c : *comps) {
      if (!c.is_object()) continue;
      const auto host = optional_string(c, "host");
      const auto port = c.find("port");
      const bool by_certificate =
          !c.contains("kafka_authentication_method") ||
          optional_string(c, "kafka_authentication_method") == "certificate";
      if (optional_string(c, "component") == "kafka" && by_certificate && host && !host->empty() &&
          port != c.end() && port->is_number_integer()) {
        return ServiceAddress{fmt::format("{}:{}", *host, port->get<long long>())};
      }
    }
  }
  auto uri = required_string(*svc, "service_uri", where);
  if (!uri) return std::unexpected(uri.error());
  return ServiceAddress{*uri};
}

}  // namespace certswap
