#include "certswap/cert_info.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <ctime>

#include "certswap/pem.hpp"
#include "certswap/ssl_handles.hpp"

namespace certswap {
namespace {

std::string name_string(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  // Without ESC_MSB, UTF-8 names stay readable instead of becoming \C3\A9.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || !data) return {};
  return std::string(data, static_cast<size_t>(len));
}

// The last commonName (the most specific one), as UTF-8; "" when there is none.
std::string common_name(const X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  int last = index;
  for (int next = index; (next = X509_NAME_get_index_by_NID(name, NID_commonName, next)) >= 0;)
    last = next;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return text;
}

// A time OpenSSL cannot read becomes `unreadable`, chosen by the caller so
// that the validity window fails closed.
std::chrono::system_clock::time_point to_time_point(
    const ASN1_TIME* t, std::chrono::system_clock::time_point unreadable) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return unreadable;
  // system_clock counts nanoseconds in 64 bits (years 1678 to 2261); RFC 5280's
  // "no expiry" 9999-12-31 is beyond it and means the end of time.
  using namespace std::chrono;
  const auto s = seconds(timegm(&tm));
  if (s > duration_cast<seconds>(system_clock::duration::max()))
    return system_clock::time_point::max();
  if (s < duration_cast<seconds>(system_clock::duration::min()))
    return system_clock::time_point::min();
  return system_clock::time_point(duration_cast<system_clock::duration>(s));
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

// A cursor over an ISO 8601 text that reads fixed-width fields, so that
// "2026-1-5" or a five-digit year are refused rather than guessed at.
class Iso8601Reader {
 public:
  explicit Iso8601Reader(std::string_view text) : rest_(text) {}

  bool literal(std::string_view expected) {
    if (!rest_.starts_with(expected)) return false;
    rest_.remove_prefix(expected.size());
    return true;
  }

  bool digits(std::size_t width, int& out) {
    if (rest_.size() < width) return false;
    int value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      if (!is_digit(rest_[i])) return false;
      value = value * 10 + (rest_[i] - '0');
    }
    out = value;
    rest_.remove_prefix(width);
    return true;
  }

  // Any number of digits; precision beyond nanoseconds is dropped.
  std::size_t fraction(std::chrono::nanoseconds& out) {
    std::size_t count = 0;
    std::int64_t nanos = 0;
    while (!rest_.empty() && is_digit(rest_.front())) {
      if (count < 9) nanos = nanos * 10 + (rest_.front() - '0');
      ++count;
      rest_.remove_prefix(1);
    }
    for (std::size_t i = count; i < 9; ++i) nanos *= 10;
    out = std::chrono::nanoseconds(nanos);
    return count;
  }

  bool at_end() const { return rest_.empty(); }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  std::string_view rest_;
};

}  // namespace

CertInfo describe(const X509& const_cert) {
  using time_point = std::chrono::system_clock::time_point;
  X509* cert = const_cast<X509*>(&const_cert);  // OpenSSL 3 getters are const-incorrect here
  CertInfo info;
  info.subject = name_string(X509_get_subject_name(cert));
  info.issuer = name_string(X509_get_issuer_name(cert));
  info.common_name = common_name(X509_get_subject_name(cert));
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
  info.not_before = to_time_point(X509_get0_notBefore(cert), time_point::max());
  info.not_after = to_time_point(X509_get0_notAfter(cert), time_point::min());
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
  using namespace std::chrono;
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::Api, "\"{}\" is not an ISO 8601 time ({})", text, why);
  };
  Iso8601Reader in{text};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!(in.digits(4, y) && in.literal("-") && in.digits(2, mo) && in.literal("-") &&
        in.digits(2, d))) {
    return bad("expected YYYY-MM-DD");
  }
  if (!(in.literal("T") || in.literal("t") || in.literal(" "))) return bad("expected a time");
  if (!(in.digits(2, h) && in.literal(":") && in.digits(2, mi) && in.literal(":") &&
        in.digits(2, s))) {
    return bad("expected hh:mm:ss");
  }
  const year_month_day date{year{y}, month(static_cast<unsigned>(mo)),
                            day(static_cast<unsigned>(d))};
  // 60 is a leap second; it lands on the next minute, as POSIX time does.
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return bad("a field is out of range");
  // What system_clock's 64-bit nanoseconds can hold.
  if (y < 1678 || y > 2261) return bad("the year is out of range (1678 to 2261)");
  nanoseconds fraction{0};
  if (in.literal(".") || in.literal(",")) {
    if (in.fraction(fraction) == 0) return bad("empty fraction of a second");
  }
  // Without a zone the API's convention holds: UTC.
  seconds offset{0};
  const bool east = in.literal("+");
  if (east || in.literal("-")) {
    int oh = 0, om = 0;
    if (!in.digits(2, oh)) return bad("bad UTC offset");
    if (!in.at_end()) {
      in.literal(":");  // +hh:mm and +hhmm are both ISO 8601
      if (!in.digits(2, om)) return bad("bad UTC offset");
    }
    if (oh > 23 || om > 59) return bad("bad UTC offset");
    offset = east ? hours(oh) + minutes(om) : -(hours(oh) + minutes(om));
  } else if (!in.literal("Z")) {
    in.literal("z");
  }
  if (!in.at_end()) return bad("trailing text");
  return sys_days(date) + hours(h) + minutes(mi) + seconds(s) + fraction - offset;
}

}  // namespace certswap
