#pragma once
// Key shapes and a signer the emulator's PKI does not offer: RSA, PKCS#1 and
// SEC1 encodings, encrypted keys, and a leaf for a key the test chose.
#include <chrono>
#include <string>

#include "certswap/ssl_handles.hpp"
#include "pki.hpp"

namespace test_pki {

certswap::EvpPkeyPtr rsa_key();
certswap::EvpPkeyPtr ec_key();

std::string pkcs8_pem(EVP_PKEY* key);
// "BEGIN RSA PRIVATE KEY" for RSA, "BEGIN EC PRIVATE KEY" for EC.
std::string traditional_pem(EVP_PKEY* key);
std::string encrypted_pkcs8_pem(EVP_PKEY* key);
// The older OpenSSL form: a traditional key with a "Proc-Type: 4,ENCRYPTED" header.
std::string encrypted_traditional_pem(EVP_PKEY* key);

// A client certificate for `key`, signed by `ca`, with clientAuth EKU.
std::string sign_client_cert(EVP_PKEY* key, const std::string& common_name,
                             const emulator::Authority& ca,
                             std::chrono::system_clock::time_point not_before,
                             std::chrono::system_clock::time_point not_after);

}  // namespace test_pki
