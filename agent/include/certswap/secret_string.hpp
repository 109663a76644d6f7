#pragma once
// Text that holds key material. It is wiped with OPENSSL_cleanse when it is
// destroyed or overwritten, so a private key does not linger in freed heap
// memory after a rotation. It is a std::string otherwise, so it passes to every
// function that reads text.
#include <openssl/crypto.h>

#include <string>
#include <utility>

namespace certswap {

class SecretString : public std::string {
 public:
  SecretString() = default;
  SecretString(std::string text) : std::string(std::move(text)) {}
  SecretString(const char* text) : std::string(text) {}
  SecretString(const SecretString&) = default;
  SecretString(SecretString&&) noexcept = default;
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      wipe();
      std::string::operator=(other);
    }
    return *this;
  }
  SecretString& operator=(SecretString&& other) noexcept {
    wipe();
    std::string::operator=(std::move(other));
    return *this;
  }
  SecretString& operator=(std::string text) {
    wipe();
    std::string::operator=(std::move(text));
    return *this;
  }
  ~SecretString() { wipe(); }

  // Zeroes the bytes in place (the length stays; the text is gone).
  void wipe() noexcept {
    if (!empty()) OPENSSL_cleanse(data(), size());
  }
};

}  // namespace certswap
