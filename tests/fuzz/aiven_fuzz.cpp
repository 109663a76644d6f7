// libFuzzer target: Aiven API response bodies, through the pure decoding the
// client uses (aiven_response.hpp): the status/body checks with a 2xx and with
// an error status, the user, project CA and service decoders (the service and
// PUT answers through the streaming reader that builds only what it keeps,
// from a string and from a stream), and the ISO 8601 times of a user the
// decoder accepts. Built and run by tests/fuzz/run-fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "certswap/aiven_response.hpp"
#include "certswap/cert_info.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)certswap::check_response(200, body, "fuzz 200");
  (void)certswap::check_response(404, body, "fuzz 404");
  if (auto user = certswap::decode_user_response(body, "fuzz user")) {
    (void)certswap::parse_iso8601(user->access_cert_not_valid_after_time);
    if (user->expiring_cert_not_valid_after_time) {
      (void)certswap::parse_iso8601(*user->expiring_cert_not_valid_after_time);
    }
  }
  (void)certswap::decode_ca_response(body, "fuzz ca");
  (void)certswap::decode_service_response(body, "fuzz service");
  (void)certswap::decode_modify_response_user(body, "app");
  std::istringstream stream{std::string(body)};
  (void)certswap::decode_service_response(stream, "fuzz service stream", "public");
  std::istringstream put{std::string(body)};
  (void)certswap::decode_modify_response(put, "app");
  return 0;
}
