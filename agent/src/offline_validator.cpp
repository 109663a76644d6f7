#include "certswap/offline_validator.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certswap/pem.hpp"

namespace certswap {
namespace {

std::string ca_subjects(const std::vector<X509Ptr>& cas) {
  std::string out;
  for (const auto& ca : cas) {
    if (!out.empty()) out += ", ";
    out += "\"" + describe(*ca).subject + "\"";
  }
  return out;
}

// "24h" rather than "86400s": policies are configured in hours or minutes.
std::string human(std::chrono::seconds d) {
  const auto n = d.count();
  if (n != 0 && n % 3600 == 0) return fmt::format("{}h", n / 3600);
  if (n != 0 && n % 60 == 0) return fmt::format("{}m", n / 60);
  return fmt::format("{}s", n);
}

bool names_a_ca(const std::string& issuer, const std::vector<X509Ptr>& cas) {
  for (const auto& ca : cas) {
    if (describe(*ca).subject == issuer) return true;
  }
  return false;
}

// Only when the extension is present: a certificate without EKU may be used for anything.
bool allows_client_auth(X509* cert) {
  const uint32_t flags = X509_get_extension_flags(cert);
  if (!(flags & EXFLAG_XKUSAGE)) return true;
  return (X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0;
}

}  // namespace

Result<CertInfo> validate_offline(const CredentialSet& set, const OfflinePolicy& policy,
                                  std::chrono::system_clock::time_point now) {
  const std::string from = set.origin.empty() ? "" : " from " + set.origin;
  auto cas = parse_certificates(set.ca_pem, "ca.pem" + from);
  if (!cas) return std::unexpected(cas.error());
  auto chain = parse_certificates(set.cert_pem, "service.cert" + from);
  if (!chain) return std::unexpected(chain.error());
  auto key = parse_private_key(set.key_pem, "service.key" + from);
  if (!key) return std::unexpected(key.error());

  X509* leaf = chain->front().get();
  const CertInfo info = describe(*leaf);
  const std::string cert_name = fmt::format("service.cert (subject \"{}\"){}", info.subject, from);

  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key->get()) != 1) {
    return fail(ErrorKind::Invalid,
                "service.key{}: the private key does not match service.cert (subject \"{}\")", from,
                info.subject);
  }
  // Time first, with our own words: OpenSSL's "certificate has expired" says
  // neither when nor by how much.
  if (info.not_before > now + policy.clock_skew) {
    return fail(ErrorKind::Invalid, "{}: not valid until {} (now {})", cert_name,
                format_time(info.not_before), format_time(now));
  }
  if (info.not_after <= now) {
    return fail(ErrorKind::Invalid, "{}: expired on {}", cert_name, format_time(info.not_after));
  }
  if (info.not_after <= now + policy.min_remaining) {
    return fail(ErrorKind::Invalid, "{}: expires on {} (less than the minimum remaining {})",
                cert_name, format_time(info.not_after), human(policy.min_remaining));
  }

  // Every CA of the bundle is an anchor (a bundle carries old and new CA
  // during a CA rotation); certificates after the leaf only help build the path.
  X509StorePtr store(X509_STORE_new());
  StackOfX509Ptr intermediates(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !intermediates || !ctx) {
    return fail(ErrorKind::Internal, "{}: out of memory verifying the chain", cert_name);
  }
  for (const auto& ca : *cas) X509_STORE_add_cert(store.get(), ca.get());
  for (std::size_t i = 1; i < chain->size(); ++i) {
    if (sk_X509_push(intermediates.get(), (*chain)[i].get()) > 0) X509_up_ref((*chain)[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf, intermediates.get()) != 1) {
    return fail(ErrorKind::Internal, "{}: cannot set up chain verification: {}", cert_name,
                openssl_error_string());
  }
  // Time was checked above, against the injected `now`, with better words.
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
  const bool verified = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();  // the verify error code below says it all
  if (!verified) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const bool no_issuer = err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                           err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                           err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                           err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
    // OpenSSL reports an impostor with the project CA's name either way,
    // depending on whether key identifiers let it rule the real CA out first.
    if ((no_issuer || err == X509_V_ERR_CERT_SIGNATURE_FAILURE) && names_a_ca(info.issuer, *cas)) {
      return fail(ErrorKind::Invalid,
                  "{}: names \"{}\" as issuer, but was not signed by that project CA's key "
                  "(another CA with the same name?)",
                  cert_name, info.issuer);
    }
    if (no_issuer) {
      return fail(ErrorKind::Invalid, "{}: issued by \"{}\", not by the project CA ({})", cert_name,
                  info.issuer, ca_subjects(*cas));
    }
    return fail(ErrorKind::Invalid, "{}: does not verify against the project CA ({}): {}",
                cert_name, ca_subjects(*cas), X509_verify_cert_error_string(err));
  }
  if (!allows_client_auth(leaf)) {
    return fail(ErrorKind::Invalid,
                "{}: its extended key usage does not allow TLS client authentication", cert_name);
  }
  return info;
}

}  // namespace certswap
