#include "certswap/cert_info.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>

#include <charconv>
#include <ctime>

#include "certswap/pem.hpp"
#include "certswap/ssl_handles.hpp"

namespace certswap {
namespace {

std::string name_string(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string hex(const unsigned char* data, size_t len) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

CertInfo describe(const X509& const_cert) {
  X509* cert = const_cast<X509*>(&const_cert);  // OpenSSL 3 getters are const-incorrect here
  CertInfo info;
  info.subject = name_string(X509_get_subject_name(cert));
  info.issuer = name_string(X509_get_issuer_name(cert));
  std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (serial) {
    if (char* text = BN_bn2hex(serial.get())) {
      info.serial_hex = text;
      OPENSSL_free(text);
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  X509_digest(cert, EVP_sha256(), md, &md_len);
  info.sha256_fingerprint = hex(md, md_len);
  info.not_before = to_time_point(X509_get0_notBefore(cert));
  info.not_after = to_time_point(X509_get0_notAfter(cert));
  return info;
}

Result<CertInfo> inspect_certificate_pem(std::string_view pem, std::string_view what) {
  auto certs = parse_certificates(pem, what);
  if (!certs) return std::unexpected(certs.error());
  return describe(*certs->front());
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &md_len, EVP_sha256(), nullptr);
  return hex(md, md_len);
}

std::string format_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

Result<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  std::tm tm{};
  int fields[6] = {};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  const char separators[] = {'-', '-', 'T', ':', ':', '\0'};
  for (int i = 0; i < 6; ++i) {
    auto [next, ec] = std::from_chars(p, end, fields[i]);
    if (ec != std::errc{}) return fail(ErrorKind::Api, "\"{}\" is not an ISO 8601 time", text);
    p = next;
    if (separators[i]) {
      if (p == end || (*p != separators[i] && !(i == 2 && *p == ' '))) {
        return fail(ErrorKind::Api, "\"{}\" is not an ISO 8601 time", text);
      }
      ++p;
    }
  }
  if (p != end && *p == '.') {
    ++p;
    while (p != end && std::isdigit(static_cast<unsigned char>(*p))) ++p;
  }
  long offset_seconds = 0;
  if (p != end && (*p == '+' || *p == '-')) {
    const int sign = *p == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    auto [a, e1] = std::from_chars(p + 1, end, hh);
    if (e1 != std::errc{} || a == end || *a != ':')
      return fail(ErrorKind::Api, "\"{}\": bad UTC offset", text);
    auto [b, e2] = std::from_chars(a + 1, end, mm);
    if (e2 != std::errc{}) return fail(ErrorKind::Api, "\"{}\": bad UTC offset", text);
    offset_seconds = sign * (hh * 3600L + mm * 60L);
    p = b;
  } else if (p != end && (*p == 'Z' || *p == 'z')) {
    ++p;
  }
  if (p != end) return fail(ErrorKind::Api, "\"{}\" is not an ISO 8601 time", text);
  tm.tm_year = fields[0] - 1900;
  tm.tm_mon = fields[1] - 1;
  tm.tm_mday = fields[2];
  tm.tm_hour = fields[3];
  tm.tm_min = fields[4];
  tm.tm_sec = fields[5];
  return std::chrono::system_clock::from_time_t(timegm(&tm) - offset_seconds);
}

}  // namespace certswap
