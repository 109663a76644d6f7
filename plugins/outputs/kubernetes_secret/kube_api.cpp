#include "kube_api.hpp"

namespace certswap {
namespace {

std::string secret_path(const std::string& ns, const std::string& name) {
  return fmt::format("/api/v1/namespaces/{}/secrets/{}", ns, name);
}

HttpOptions http_options(const KubeConnection& c, std::chrono::milliseconds timeout) {
  HttpOptions options;
  options.base_url = c.server;
  options.ca_pem = c.ca_pem;
  options.client_cert_pem = c.client_cert_pem;
  options.client_key_pem = c.client_key_pem;
  options.total_timeout = timeout;
  options.connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  return options;
}

}  // namespace

KubeApi::KubeApi(KubeConnection connection, std::chrono::milliseconds timeout)
    : connection_(std::move(connection)), http_(http_options(connection_, timeout)) {}

Result<HttpResponse> KubeApi::call(const std::string& method, const std::string& path,
                                   const std::string& body, bool retry,
                                   const std::string& content_type) {
  auto auth = connection_.authorization();
  if (!auth) return std::unexpected(auth.error());
  std::vector<std::string> headers{"accept: application/json"};
  if (!body.empty()) headers.push_back("content-type: " + content_type);
  if (!auth->empty()) headers.push_back(*auth);
  auto response = http_.request(method, path, body, headers, retry);
  for (auto& h : headers) SecretString(std::move(h)).wipe();
  if (!response) {
    Error e = response.error();
    e.kind = ErrorKind::Io;
    e.message =
        fmt::format("Kubernetes API server ({}) not reachable: {}", connection_.origin, e.message);
    return std::unexpected(std::move(e));
  }
  return response;
}

Error KubeApi::failure(const std::string& what, const HttpResponse& response) const {
  std::string reason;
  try {
    auto status = nlohmann::json::parse(response.body);
    reason = status.value("message", std::string());
  } catch (const nlohmann::json::exception&) {
  }
  std::string hint;
  if (response.status == 401) {
    hint = fmt::format("; the credentials of {} were not accepted", connection_.origin);
  } else if (response.status == 403) {
    hint =
        "; RBAC: the Role of certswap's account needs get, update and patch on this Secret "
        "(by resourceNames) and create on secrets (deploy/kubernetes/central/role.yaml)";
  }
  Error e{ErrorKind::Io,
          fmt::format("Kubernetes {} {}: HTTP {}{}{}", connection_.server, what, response.status,
                      reason.empty() ? "" : ": " + reason, hint),
          static_cast<int>(response.status)};
  return e;
}

Result<std::optional<nlohmann::json>> KubeApi::get_secret(const std::string& ns,
                                                          const std::string& name) {
  auto response = call("GET", secret_path(ns, name), "", true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 404) {
    SecretString(std::move(response->body)).wipe();
    return std::nullopt;
  }
  if (response->status != 200) {
    return std::unexpected(failure(fmt::format("GET Secret {}/{}", ns, name), *response));
  }
  try {
    auto secret = nlohmann::json::parse(response->body);
    SecretString(std::move(response->body)).wipe();
    return secret;
  } catch (const nlohmann::json::exception&) {
    SecretString(std::move(response->body)).wipe();
    return fail(ErrorKind::Io, "Kubernetes {} GET Secret {}/{}: the answer is not JSON",
                connection_.server, ns, name);
  }
}

namespace {

Result<WriteResult> written(HttpResponse& response) {
  try {
    auto object = nlohmann::json::parse(response.body);
    SecretString(std::move(response.body)).wipe();
    return WriteResult{WriteOutcome::Written, std::move(object)};
  } catch (const nlohmann::json::exception&) {
    SecretString(std::move(response.body)).wipe();
    return fail(ErrorKind::Io, "the Kubernetes API server's answer to a write is not JSON");
  }
}

}  // namespace

Result<WriteResult> KubeApi::replace_secret(const std::string& ns, const std::string& name,
                                            const nlohmann::json& secret) {
  SecretString body = secret.dump();
  // A retried PUT whose first attempt landed meets a 409: the caller re-reads.
  auto response = call("PUT", secret_path(ns, name), body, true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 409) return WriteResult{WriteOutcome::Conflict, {}};
  if (response->status != 200 && response->status != 201) {
    return std::unexpected(failure(fmt::format("PUT Secret {}/{}", ns, name), *response));
  }
  return written(*response);
}

Result<void> KubeApi::patch(const std::string& path, const nlohmann::json& patch,
                            const std::string& what) {
  auto response = call("PATCH", path, patch.dump(), true, "application/strategic-merge-patch+json");
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) return std::unexpected(failure("PATCH " + what, *response));
  return {};
}

Result<WriteResult> KubeApi::create_secret(const std::string& ns, const nlohmann::json& secret) {
  SecretString body = secret.dump();
  auto response = call("POST", fmt::format("/api/v1/namespaces/{}/secrets", ns), body, true);
  if (!response) return std::unexpected(response.error());
  if (response->status == 409) return WriteResult{WriteOutcome::Conflict, {}};
  if (response->status != 201 && response->status != 200) {
    return std::unexpected(failure(
        fmt::format("POST Secret {}/{}", ns, secret["metadata"].value("name", "")), *response));
  }
  return written(*response);
}

}  // namespace certswap
