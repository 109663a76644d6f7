#pragma once
#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <string_view>

#include "certswap/error.hpp"

namespace certswap {

struct CertInfo {
  std::string subject, issuer;  // RFC 2253, e.g. "CN=app,OU=kafka"
  // The subject's commonName: Aiven names the service user there.
  std::string common_name;
  std::string serial_hex;
  std::string sha256_fingerprint;  // lowercase hex of the DER, no colons
  std::chrono::system_clock::time_point not_before, not_after;
};

CertInfo describe(const X509& cert);
// The first certificate of a PEM text; `what` names field and source in errors.
Result<CertInfo> inspect_certificate_pem(std::string_view pem, std::string_view what);
std::string sha256_hex(std::string_view bytes);
std::string format_time(std::chrono::system_clock::time_point t);  // 2026-11-24T10:00:00Z
// YYYY-MM-DDThh:mm:ss, optional fraction, then Z, +hh:mm, +hhmm, +hh or
// nothing (read as UTC, as the Aiven API means it). Fixed-width fields only.
Result<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

}  // namespace certswap
