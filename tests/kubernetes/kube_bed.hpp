#pragma once
// Tests' view of the real kube-apiserver started by
// tests/testbed/kubernetes/kube-testbed.sh ($CERTSWAP_KUBE_DIR/kube.json),
// driven over REST as an administrator.
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace kubebed {

struct Reply {
  int status = 0;
  nlohmann::json body;
  std::string warnings;  // the Warning headers (Pod Security says what it would refuse)
};

class KubeBed {
 public:
  std::string server, ca_file, admin_kubeconfig, ns;
  int apiserver_pid = -1;

  static KubeBed load() {
    const char* dir = std::getenv("CERTSWAP_KUBE_DIR");
    if (!dir) throw std::runtime_error("CERTSWAP_KUBE_DIR is not set: run the tests through ctest");
    const auto j = nlohmann::json::parse(read_all(std::string(dir) + "/kube.json"));
    KubeBed bed;
    bed.server = j.at("server");
    bed.ca_file = j.at("ca_file");
    bed.admin_kubeconfig = j.at("admin_kubeconfig");
    bed.ns = j.at("namespace");
    bed.apiserver_pid = std::stoi(read_all(j.at("apiserver_pid")));  // a pid file
    bed.admin_token_ = trim(read_all(j.at("admin_token_file")));
    return bed;
  }

  const std::string& admin_token() const { return admin_token_; }

  Reply call(const std::string& method, const std::string& path,
             const nlohmann::json& body = nullptr, const std::string& token = "") const {
    auto client = make_client();
    httplib::Headers headers{{"Authorization", "Bearer " + (token.empty() ? admin_token_ : token)},
                             {"Accept", "application/json"}};
    const std::string text = body.is_null() ? "" : body.dump();
    httplib::Result r = method == "GET"      ? client->Get(path, headers)
                        : method == "DELETE" ? client->Delete(path, headers)
                        : method == "POST"   ? client->Post(path, headers, text, "application/json")
                        : method == "PUT"
                            ? client->Put(path, headers, text, "application/json")
                            : client->Patch(path, headers, text, "application/merge-patch+json");
    if (!r) throw std::runtime_error(method + " " + path + ": no answer from the API server");
    Reply reply{r->status, nullptr, ""};
    if (!r->body.empty()) reply.body = nlohmann::json::parse(r->body, nullptr, false);
    for (auto [it, end] = r->headers.equal_range("Warning"); it != end; ++it) {
      reply.warnings += it->second + "\n";
    }
    return reply;
  }

  std::string secret_path(const std::string& name) const {
    return "/api/v1/namespaces/" + ns + "/secrets/" + name;
  }
  // The Secret, or null when it does not exist.
  nlohmann::json secret(const std::string& name) const {
    auto r = call("GET", secret_path(name));
    if (r.status == 404) return nullptr;
    if (r.status != 200) throw std::runtime_error("GET " + name + ": " + std::to_string(r.status));
    return r.body;
  }
  void create_secret(const nlohmann::json& secret) const {
    auto r = call("POST", "/api/v1/namespaces/" + ns + "/secrets", secret);
    if (r.status != 201) throw std::runtime_error("create Secret: " + r.body.dump());
  }

  // A ServiceAccount whose Role allows get/update/patch on the Secrets named
  // `allowed` and create on secrets; returns a kubeconfig with its token.
  std::filesystem::path limited_account(const std::string& account,
                                        const std::vector<std::string>& allowed,
                                        const std::filesystem::path& dir) const {
    const std::string base = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + ns;
    expect(call("POST", "/api/v1/namespaces/" + ns + "/serviceaccounts",
                {{"metadata", {{"name", account}}}}),
           201);
    expect(call("POST", base + "/roles",
                {{"metadata", {{"name", account}}},
                 {"rules",
                  {{{"apiGroups", {""}},
                    {"resources", {"secrets"}},
                    {"resourceNames", allowed},
                    {"verbs", {"get", "update", "patch", "watch"}}},
                   {{"apiGroups", {""}}, {"resources", {"secrets"}}, {"verbs", {"create"}}}}}}),
           201);
    expect(
        call("POST", base + "/rolebindings",
             {{"metadata", {{"name", account}}},
              {"roleRef",
               {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", account}}},
              {"subjects", {{{"kind", "ServiceAccount"}, {"name", account}, {"namespace", ns}}}}}),
        201);
    auto token = call("POST", "/api/v1/namespaces/" + ns + "/serviceaccounts/" + account + "/token",
                      {{"apiVersion", "authentication.k8s.io/v1"},
                       {"kind", "TokenRequest"},
                       {"spec", {{"expirationSeconds", 3600}}}});
    expect(token, 201);
    return kubeconfig(dir / (account + ".kubeconfig"), token.body["status"]["token"]);
  }

  // A kubeconfig for this server with `token`, mode 0600.
  std::filesystem::path kubeconfig(const std::filesystem::path& path, const std::string& token,
                                   const std::string& server_url = "") const {
    {
      std::ofstream out(path);
      out << "apiVersion: v1\nkind: Config\nclusters:\n- name: bed\n  cluster:\n"
          << "    server: " << (server_url.empty() ? server : server_url) << "\n"
          << "    certificate-authority: " << ca_file << "\n"
          << "users:\n- name: u\n  user:\n    token: " << token << "\n"
          << "contexts:\n- name: c\n  context:\n    cluster: bed\n    user: u\n"
          << "current-context: c\n";
    }
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return path;
  }

 private:
  static std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }
  static void expect(const Reply& r, int status) {
    if (r.status != status) {
      throw std::runtime_error("expected HTTP " + std::to_string(status) + ", got " +
                               std::to_string(r.status) + ": " + r.body.dump());
    }
  }
  std::unique_ptr<httplib::SSLClient> make_client() const {
    const auto host_port = server.substr(server.find("://") + 3);
    const auto colon = host_port.rfind(':');
    auto c = std::make_unique<httplib::SSLClient>(host_port.substr(0, colon),
                                                  std::stoi(host_port.substr(colon + 1)));
    c->set_ca_cert_path(ca_file.c_str());
    c->enable_server_certificate_verification(true);
    c->set_read_timeout(30, 0);
    return c;
  }

  std::string admin_token_;
};

}  // namespace kubebed
