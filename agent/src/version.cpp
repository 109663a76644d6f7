#include "certswap/version.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <openssl/crypto.h>

#include "build_version.hpp"

namespace certswap {

const BuildInfo& build_info() {
  static const BuildInfo info = [] {
    BuildInfo b;
    b.version = CERTSWAP_VERSION_STRING;
    b.commit = CERTSWAP_COMMIT_STRING;
    b.openssl = OpenSSL_version(OPENSSL_VERSION);
    b.librdkafka = rd_kafka_version_str();
    const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
    b.libcurl = curl && curl->version ? curl->version : "unknown";
    return b;
  }();
  return info;
}

std::string version_text() {
  const auto& b = build_info();
  return fmt::format("certswap {}\ncommit {}\nopenssl {}\nlibrdkafka {}\nlibcurl {}\n", b.version,
                     b.commit, b.openssl, b.librdkafka, b.libcurl);
}

std::string user_agent() {
  return "certswap/" + build_info().version;
}

}  // namespace certswap
