#include <fstream>
#include <tuple>

#include "certswap/cert_info.hpp"
#include "certswap/exit_codes.hpp"
#include "certswap/live_validator.hpp"
#include "certswap/offline_validator.hpp"
#include "cli/cli.hpp"

namespace certswap::cli {
namespace {

// Paths a person typed: links are followed (the live layout is all links).
Result<std::string> read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::Usage, "cannot read {} {}", what, path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int run_validate(const std::string& cert, const std::string& key, const std::string& ca,
                 const std::string& bootstrap, const std::string& timeout_text) {
  PrintingReporter reporter;
  CredentialSet set;
  for (auto [path, field, what] : {std::tuple<const std::string*, std::string*, const char*>{
                                       &cert, &set.cert_pem, "certificate"},
                                   {&key, &set.key_pem, "key"},
                                   {&ca, &set.ca_pem, "CA"}}) {
    auto text = read_text(*path, what);
    if (!text) return report_error(text.error());
    *field = std::move(*text);
  }
  set.origin = fmt::format("--cert {} --key {} --ca {}", cert, key, ca);
  auto started = std::chrono::steady_clock::now();
  auto info = validate_offline(
      set, OfflinePolicy{std::chrono::seconds(300), std::chrono::seconds(0)}, Clock::now());
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (!info) {
    reporter.step("validate", "validate-offline", to_string(info.error().kind), took,
                  info.error().message);
    return exit_code_for(info.error().kind);
  }
  reporter.step("validate", "validate-offline", "ok", took,
                fmt::format("subject \"{}\", issuer \"{}\", not after {}, sha256 {}", info->subject,
                            info->issuer, format_time(info->not_after), info->sha256_fingerprint));
  if (bootstrap.empty()) return kExitOk;
  auto timeout = parse_duration(timeout_text);
  if (!timeout) return report_error(timeout.error());
  const LiveResult live = validate_live(set, bootstrap, *timeout);
  reporter.step("validate", "validate-live", to_string(live.verdict), live.elapsed,
                fmt::format("{}: {}", bootstrap, live.detail));
  switch (live.verdict) {
    case LiveVerdict::Accepted:
      return kExitOk;
    case LiveVerdict::Rejected:
      return kExitInvalid;
    case LiveVerdict::Inconclusive:
      return kExitInconclusive;
  }
  return kExitFailure;
}

}  // namespace certswap::cli
