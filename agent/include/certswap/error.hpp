#pragma once
// One error type for the whole pipeline. Every fallible step returns
// Result<T>; the CLI maps ErrorKind to an exit code in one table (exit_codes.hpp).
#include <fmt/format.h>

#include <expected>
#include <string>
#include <utility>

namespace certswap {

enum class ErrorKind {
  Usage,         // bad flags or configuration
  Api,           // the Aiven API failed or answered something unusable
  Invalid,       // a credential failed offline validation (bad PEM, wrong CA, expired...)
  Rejected,      // the broker refused the credential (TLS / authentication)
  Inconclusive,  // the broker could not be reached; nothing is known about the credential
  Io,            // the local file system failed
  Notify,        // an application could not be told about the new set
  Locked,        // another certswap is writing the same target (writer_lock.hpp)
  Internal,
};

struct Error {
  ErrorKind kind;
  std::string message;  // what failed, where, and what to do; never secrets
  // The API's HTTP status when it answered with an error; 0 when it did not
  // answer (transport) or the error is not the API's. A 4xx means the API
  // refused and did nothing, which is all a caller may conclude from it.
  int http_status = 0;
};

template <class T>
using Result = std::expected<T, Error>;

template <class... Args>
std::unexpected<Error> fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected(Error{kind, fmt::format(f, std::forward<Args>(args)...)});
}

std::string_view to_string(ErrorKind kind);

}  // namespace certswap
