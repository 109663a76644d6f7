#pragma once
#include <string>

#include "certswap/secret_string.hpp"

namespace certswap {

// A credential set as it travels through the pipeline: PEM text exactly as
// received, plus where it came from so that errors can name the source.
struct CredentialSet {
  std::string ca_pem;    // project CA; may be a bundle during a CA rotation
  std::string cert_pem;  // client certificate (leaf, optionally followed by a chain)
  SecretString key_pem;  // private key, PKCS#8 or PKCS#1; wiped when dropped
  std::string origin;    // e.g. "GET /v1/project/p/service/s/user/u" or "inbox /path"

  bool operator==(const CredentialSet& o) const {
    return ca_pem == o.ca_pem && cert_pem == o.cert_pem && key_pem == o.key_pem;
  }
};

}  // namespace certswap
