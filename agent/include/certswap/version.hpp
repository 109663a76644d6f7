#pragma once
// What certswap is and what it runs on: the version and commit it was built
// from (cmake/Version.cmake) and the versions of the TLS, Kafka and HTTP
// libraries the loader found at run time (not the headers it was built with).
#include <string>

namespace certswap {

struct BuildInfo {
  std::string version;     // git describe at configure time, else project()'s VERSION
  std::string commit;      // full hash, or "unknown"
  std::string openssl;     // OpenSSL_version(OPENSSL_VERSION), e.g. "OpenSSL 3.0.17 1 Jul 2025"
  std::string librdkafka;  // rd_kafka_version_str()
  std::string libcurl;     // curl_version_info()->version
};

const BuildInfo& build_info();
// `certswap --version` / `certswap version`: one "name value" per line.
std::string version_text();
// The HTTP User-Agent: certswap/<version>.
std::string user_agent();

}  // namespace certswap
