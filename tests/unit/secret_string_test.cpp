#include "certswap/secret_string.hpp"

#include <catch2/catch.hpp>
#include <type_traits>

using certswap::SecretString;

TEST_CASE("wipe zeroes every byte of a secret in place") {
  SecretString key(std::string(2048, 'k'));
  const char* bytes = key.data();
  key.wipe();
  REQUIRE(key.size() == 2048);
  for (size_t i = 0; i < key.size(); ++i) REQUIRE(bytes[i] == '\0');
}

TEST_CASE("a secret moves without a copy and reads like a string") {
  static_assert(std::is_nothrow_move_constructible_v<SecretString>);
  SecretString a(std::string(100, 'x'));
  const char* buffer = a.data();
  SecretString b(std::move(a));
  CHECK(b.data() == buffer);  // the heap buffer moved; nothing was left behind to wipe
  CHECK(a.empty());
  const std::string& as_text = b;
  CHECK(as_text == std::string(100, 'x'));
  b = std::string("replaced");
  CHECK(b == "replaced");
}
