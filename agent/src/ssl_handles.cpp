#include "certswap/ssl_handles.hpp"

#include <openssl/err.h>

namespace certswap {

BioPtr memory_bio(std::string_view data) {
  // A default string_view has a null data(), which BIO_new_mem_buf refuses;
  // an empty input must read as "no PEM here", not as an allocation failure.
  const char* bytes = data.empty() ? "" : data.data();
  return BioPtr(BIO_new_mem_buf(bytes, static_cast<int>(data.size())));
}

std::string openssl_error_string() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace certswap
