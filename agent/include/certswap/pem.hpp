#pragma once
#include <string_view>
#include <vector>

#include "certswap/error.hpp"
#include "certswap/ssl_handles.hpp"

namespace certswap {

// Every certificate of a PEM text (a bundle is fine); none is an error.
// `what` names the field and its source, e.g. "ca.pem from GET /v1/project/p/kms/ca".
Result<std::vector<X509Ptr>> parse_certificates(std::string_view pem, std::string_view what);

// PKCS#8, PKCS#1 (RSA) or SEC1 (EC); encrypted keys are refused. Errors never quote key material.
Result<EvpPkeyPtr> parse_private_key(std::string_view pem, std::string_view what);

}  // namespace certswap
