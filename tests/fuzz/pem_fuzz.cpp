// libFuzzer target: PEM text as certswap receives it (API fields, inbox files).
// Drives parse_certificates, parse_private_key, inspect_certificate_pem,
// describe and validate_offline. Built and run by tests/fuzz/run-fuzz.sh.
//
// validate_offline gets a CredentialSet cut from the input at lines that hold
// only "%%" (ca.pem, service.cert, service.key, in that order); an input
// without such a line is used for all three fields, as a bundle.pem would be.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "certswap/cert_info.hpp"
#include "certswap/credential.hpp"
#include "certswap/offline_validator.hpp"
#include "certswap/pem.hpp"

namespace {

using certswap::CredentialSet;
using std::chrono::system_clock;

CredentialSet split_set(std::string_view text) {
  constexpr std::string_view separator = "\n%%\n";
  CredentialSet set;
  set.origin = "fuzz";
  const auto first = text.find(separator);
  if (first == std::string_view::npos) {
    set.ca_pem = set.cert_pem = set.key_pem = std::string(text);
    return set;
  }
  set.ca_pem = std::string(text.substr(0, first));
  text.remove_prefix(first + separator.size());
  const auto second = text.find(separator);
  set.cert_pem = std::string(text.substr(0, second));
  set.key_pem = second == std::string_view::npos
                    ? set.cert_pem
                    : std::string(text.substr(second + separator.size()));
  return set;
}

// "Now" is an hour after the leaf's notBefore, so that the seeds get past the
// validity window to the chain checks; a fixed time when that is out of range.
system_clock::time_point pick_now(const CredentialSet& set) {
  using namespace std::chrono;
  const system_clock::time_point fixed = sys_days(year{2026} / 11 / 26);
  auto info = certswap::inspect_certificate_pem(set.cert_pem, "fuzz leaf");
  if (!info) return fixed;
  const system_clock::time_point low = sys_days(year{1971} / 1 / 1);
  const system_clock::time_point high = sys_days(year{2200} / 1 / 1);
  if (info->not_before < low || info->not_before > high) return fixed;
  return info->not_before + hours(1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto certs = certswap::parse_certificates(text, "fuzz certificates")) {
    for (const auto& cert : *certs) (void)certswap::describe(*cert);
  }
  (void)certswap::parse_private_key(text, "fuzz key");
  (void)certswap::inspect_certificate_pem(text, "fuzz inspect");

  const CredentialSet set = split_set(text);
  const certswap::OfflinePolicy policy;
  (void)certswap::validate_offline(set, policy, pick_now(set));
  return 0;
}
