#pragma once
// How certswap reaches a Kubernetes API server and proves who it is: in the
// cluster (the pod's ServiceAccount), or from a kubeconfig file.
#include <filesystem>
#include <string>

#include "certswap/error.hpp"
#include "certswap/secret_string.hpp"

namespace certswap {

struct KubeConnection {
  std::string server;  // https://host:port, no trailing slash
  std::string ca_pem;  // trusted for the server; empty: the system store
  // A bearer token, or a file holding one that is read again for every
  // request (a projected ServiceAccount token is rotated by kubelet).
  SecretString token;
  std::filesystem::path token_file;
  std::string client_cert_pem;  // mutual TLS instead of (or besides) a token
  SecretString client_key_pem;
  std::string origin;  // where this came from, for messages

  // The "authorization" header line, or "" when the client certificate is
  // the credential. An unreadable token file is an error naming it.
  Result<SecretString> authorization() const;
};

// The ServiceAccount of the pod certswap runs in: KUBERNETES_SERVICE_HOST/PORT
// and /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}.
Result<KubeConnection> in_cluster_connection();

// The current context of a kubeconfig: its cluster's server and CA, its
// user's token, token file or client certificate (file or inline data).
// Refused with a clear error: exec and auth-provider plugins (they run other
// programs), insecure-skip-tls-verify, a context or user that is missing.
Result<KubeConnection> kubeconfig_connection(const std::filesystem::path& path);

// What a target asks for: --kubeconfig if given, else $KUBECONFIG (its first
// file), else the pod's ServiceAccount when KUBERNETES_SERVICE_HOST is set,
// else ~/.kube/config.
Result<KubeConnection> resolve_kube_connection(const std::filesystem::path& kubeconfig);

}  // namespace certswap
