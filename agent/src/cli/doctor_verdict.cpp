#include "cli/doctor_verdict.hpp"

#include <fmt/format.h>

#include <optional>

#include "cli/native_reload.hpp"
#include "cli/plugin_search_path.hpp"

namespace certswap::cli {
namespace {

using nlohmann::json;

// A Go program's TLS is Go's own crypto/tls: only its tls.Config can take a
// renewed certificate, and the examples show the few lines that do it.
constexpr const char* kGoRecipe =
    "give its tls.Config a GetClientCertificate that reads the live generation on each "
    "handshake: the few lines of examples/go-franz/certreload.go (examples/README.md shows them "
    "for franz-go, sarama and kafka-go)";

Verdict jvm_verdict(const json& r) {
  const auto& agent = r["jvm"]["agent"];
  if (agent.is_null()) {
    if (r["certswap_environment"].get<bool>())
      return {kDoctorWillNotWork,
              fmt::format("JVM without the certswap Java agent, though started with certswap's "
                          "environment (CERTSWAP_RELOAD_DIR is set): `certswap exec` adds the "
                          "agent by itself only when the command is `java`; for a launcher "
                          "script run `certswap exec --java-agent <path>/{} -- <script>` or add "
                          "-javaagent:<path>/{} to JAVA_TOOL_OPTIONS",
                          kJavaAgentFileName, kJavaAgentFileName)};
    return {kDoctorWillNotWork,
            fmt::format("JVM without the certswap Java agent: start it with `certswap exec` or "
                        "add -javaagent:<path>/{} to JAVA_TOOL_OPTIONS",
                        kJavaAgentFileName)};
  }
  const auto& dir = r["reload_dir"];
  if (dir["path"].is_null() && dir["problem"].is_null())
    return {kDoctorWillNotWork,
            "the certswap Java agent is attached but has no directory (no CERTSWAP_RELOAD_DIR, "
            "no dir= argument): it is inactive"};
  if (!dir["problem"].is_null())
    return {kDoctorWillNotWork, fmt::format("the certswap Java agent is attached but inactive: {}",
                                            dir["problem"].get<std::string>())};
  return {kDoctorWorks, fmt::format("JVM with the certswap Java agent (from {})",
                                    agent["from"].get<std::string>())};
}

// The preload library is mapped: why it is inactive, if it is.
std::optional<Verdict> preload_inactive(const json& r) {
  const auto& dir = r["reload_dir"];
  if (!dir["problem"].is_null())
    return Verdict{kDoctorWillNotWork,
                   fmt::format("{} is loaded but inactive: {}", kPreloadFileName,
                               dir["problem"].get<std::string>())};
  if (dir["path"].is_null())
    return Verdict{
        kDoctorWillNotWork,
        fmt::format("{} is loaded but CERTSWAP_RELOAD_DIR is not set", kPreloadFileName)};
  return std::nullopt;
}

Verdict shared_openssl_verdict(const json& r) {
  if (r["preload"].is_null())
    return {kDoctorWillNotWork,
            fmt::format("OpenSSL 3 is loaded as a shared library but {} is not: start the app "
                        "with `certswap exec` or set LD_PRELOAD and CERTSWAP_RELOAD_DIR",
                        kPreloadFileName)};
  if (auto inactive = preload_inactive(r)) return *inactive;
  return {kDoctorWorks, fmt::format("OpenSSL 3 shared library with {}", kPreloadFileName)};
}

// A librdkafka with OpenSSL linked in (the PyPI wheel, or a Go executable
// built by confluent-kafka-go's default): the preload library's static path
// covers it when it recognised the code and redirected its broker
// connections, which leaves a patched code page inside that object.
// `shared_build` is the build on the system's libssl.so.3 to offer instead.
Verdict static_openssl_verdict(const json& r, const std::string& where, bool patched,
                               const char* shared_build) {
  if (r["preload"].is_null())
    return {kDoctorWillNotWork,
            fmt::format("OpenSSL is linked statically into {}: start the app with `certswap "
                        "exec` (or LD_PRELOAD={} and CERTSWAP_RELOAD_DIR): its static path "
                        "redirects a recognised librdkafka's broker connections (x86-64, the "
                        "library's symbols present, e.g. the PyPI wheel or confluent-kafka-go's "
                        "default build); else use a build that links the system's libssl.so.3 "
                        "({})",
                        where, kPreloadFileName, shared_build)};
  if (auto inactive = preload_inactive(r)) return *inactive;
  if (r["static_path_off"].get<bool>())
    return {kDoctorWillNotWork,
            fmt::format("OpenSSL is linked statically into {} and CERTSWAP_RELOAD_STATIC=0 "
                        "turns the preload library's static path off",
                        where)};
  if (!patched)
    return {kDoctorWillNotWork,
            fmt::format("OpenSSL is linked statically into {} and {} did not redirect its "
                        "broker connections: it acts only on a librdkafka it recognises "
                        "without doubt (x86-64, its symbols present, one call of the expected "
                        "form); run the app with CERTSWAP_RELOAD_LOG=stderr to see why not",
                        where, kPreloadFileName)};
  return {kDoctorWorks,
          fmt::format("OpenSSL linked statically into {}, whose broker connections {} "
                      "redirected (its static path)",
                      where, kPreloadFileName)};
}

// Which of certswap's paths covers the process, or why none does.
Verdict path_verdict(const json& r) {
  const auto& ssl = r["openssl"];
  const bool go = r["go"].get<bool>();
  if (!r["jvm"].is_null()) return jvm_verdict(r);
  if (!ssl["static"].empty()) {
    const auto& object = ssl["static"][0];
    const auto where = fmt::format("{} ({})", object["object"].get<std::string>(),
                                   object["version"].get<std::string>());
    // A Go executable whose .symtab names librdkafka (confluent-kafka-go's
    // default build) is the static path's, like the wheel; without it (stripped,
    // or OpenSSL bound some other way) nothing can redirect its connections.
    if (go && !object["librdkafka"].get<bool>())
      return {kDoctorWillNotWork,
              fmt::format("Go binary with OpenSSL linked in statically, {}, and no librdkafka "
                          "symbols (stripped, or not confluent-kafka-go): LD_PRELOAD cannot "
                          "reach it. Build it with -tags dynamic (the system's librdkafka and "
                          "libssl.so.3), or keep its symbols (no -ldflags=-s), and start it with "
                          "`certswap exec`; or {}",
                          where, kGoRecipe)};
    return static_openssl_verdict(
        r, where, object["patched"].get<bool>(),
        go ? "confluent-kafka-go with -tags dynamic" : "Debian's python3-confluent-kafka");
  }
  if (ssl["dynamic"].empty() && !ssl["dynamic_1_1"].empty())
    return {kDoctorWillNotWork, "OpenSSL 1.1 is loaded; the preload library serves OpenSSL 3 only"};
  if (!ssl["dynamic"].empty()) return shared_openssl_verdict(r);
  if (go)
    return {kDoctorWillNotWork,
            fmt::format("Go binary using Go's crypto/tls, which the preload library cannot "
                        "reach: {}",
                        kGoRecipe)};
  return {kDoctorUnknown,
          "neither OpenSSL, a JVM nor a Go runtime is loaded (not yet, or a TLS stack certswap "
          "does not cover, e.g. rustls)"};
}

}  // namespace

// A client that reloads by itself is preferred to any helper: the advice
// comes first, and the helper's verdict stands for the time until it is set
// (doctor cannot see the client's configuration).
Verdict verdict(const json& r) {
  Verdict v = path_verdict(r);
  if (auto native = native_reload_advice(r))
    v.text = fmt::format("preferred: {}. Until then: {}", *native, v.text);
  else if (!r["jvm"].is_null())
    v.text += fmt::format(" ({})", kJavaNativeReload);
  return v;
}

}  // namespace certswap::cli
