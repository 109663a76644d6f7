#pragma once
// The few calls of the Kubernetes REST API a Secret output needs, over the
// agent's HttpClient (libcurl, TLS verified, retries on 5xx/429/transport).
// Bodies that hold key material never reach an error message: only the
// server's Status message (which names the object and the reason) does.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "certswap/error.hpp"
#include "certswap/http_client.hpp"
#include "kube_connection.hpp"

namespace certswap {

enum class WriteOutcome {
  Written,   // the object is the one sent
  Conflict,  // 409: someone wrote first (stale resourceVersion, or it exists now)
};

struct WriteResult {
  WriteOutcome outcome;
  nlohmann::json object;  // the object as stored (Written)
};

class KubeApi {
 public:
  KubeApi(KubeConnection connection, std::chrono::milliseconds timeout);

  // nullopt when the Secret does not exist.
  Result<std::optional<nlohmann::json>> get_secret(const std::string& ns, const std::string& name);
  // PUT with the object's metadata.resourceVersion (optimistic concurrency).
  Result<WriteResult> replace_secret(const std::string& ns, const std::string& name,
                                     const nlohmann::json& secret);
  Result<WriteResult> create_secret(const std::string& ns, const nlohmann::json& secret);

  // A strategic-merge patch of the object at `path` (`what` names it in errors).
  Result<void> patch(const std::string& path, const nlohmann::json& patch, const std::string& what);

  const std::string& server() const { return connection_.server; }

 private:
  Result<HttpResponse> call(const std::string& method, const std::string& path,
                            const std::string& body, bool retry,
                            const std::string& content_type = "application/json");
  Error failure(const std::string& what, const HttpResponse& response) const;

  KubeConnection connection_;
  HttpClient http_;
};

}  // namespace certswap
