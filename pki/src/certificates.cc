#include "kaas/pki/certificates.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>
#include <utility>

namespace kaas::pki {
namespace {

constexpr size_t kMaxCommonNameBytes = 64;  // ub-common-name, RFC 5280
constexpr size_t kMaxOrganizationBytes = 64;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

// Drains this thread's OpenSSL error queue into one line.
std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error reported" : out;
}

Status OpenSslInternal(std::string_view what) {
  return Internal(std::string(what) + ": " + DrainOpenSslErrors());
}

Status OpenSslInvalid(std::string field, std::string_view what) {
  return InvalidArgument(std::move(field), std::string(what) + ": " + DrainOpenSslErrors());
}

// Never prompt on a terminal for the passphrase of an encrypted PEM: fail instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<X509Ptr> ParseCertificate(std::string_view pem, const std::string& field) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslInternal("allocating a BIO");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) return OpenSslInvalid(field, field + " is not a PEM certificate");
  return cert;
}

Result<PKeyPtr> ParsePrivateKey(std::string_view pem, const std::string& field) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslInternal("allocating a BIO");
  PKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) return OpenSslInvalid(field, field + " is not an unencrypted PEM private key");
  return key;
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  if (n < 0) return OpenSslInternal("reading a memory BIO");
  return std::string(data, static_cast<size_t>(n));
}

template <typename WriteFn>
Result<std::string> ToPem(WriteFn write, std::string_view what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OpenSslInternal("encoding " + std::string(what));
  return BioContents(bio.get());
}

Result<std::string> CertificatePem(X509* cert) {
  return ToPem([&](BIO* b) { return PEM_write_bio_X509(b, cert); }, "certificate");
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  return ToPem(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      },
      "private key");
}

Result<std::string> PublicKeyPem(EVP_PKEY* key) {
  return ToPem([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key); }, "public key");
}

Result<PKeyPtr> NewP256Key() {
  PKeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslInternal("generating a P-256 key");
  return key;
}

Result<int64_t> ToUnixSeconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return OpenSslInternal("decoding a certificate time");
  return static_cast<int64_t>(timegm(&tm));
}

// A random positive 128-bit serial (CA/Browser Forum asks for >= 64 random bits; 128 leaves no
// doubt that two certificates of one CA never share one).
Status SetRandomSerial(X509* cert) {
  BnPtr bn(BN_new());
  if (!bn) return OpenSslInternal("allocating a serial");
  do {
    if (BN_rand(bn.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
      return OpenSslInternal("drawing a random serial");
    }
  } while (BN_is_zero(bn.get()));
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) {
    return OpenSslInternal("setting the serial");
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslInternal(std::string("adding extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return Status::Ok();
}

struct NameEntry {
  const char* type;   // "O", "CN"
  const char* field;  // the argument it came from, for errors
  std::string_view value;
};

struct CertificateSpec {
  std::vector<NameEntry> subject;  // in DER order: O before CN
  bool is_ca = false;
  // Leaf certificates: "" = client only; else a subjectAltName ("DNS:a,IP:127.0.0.1") and
  // extendedKeyUsage serverAuth+clientAuth (etcd members use one certificate for both).
  std::string subject_alt_names;
  int64_t not_before_s = 0;
  int64_t not_after_s = 0;
};

// Builds and signs a certificate for `subject_key`. `issuer`/`issuer_key` null: self-signed.
Result<X509Ptr> BuildCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                                 EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return OpenSslInternal("allocating a certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslInternal("set version");
  KAAS_RETURN_IF_ERROR(SetRandomSerial(cert.get()));

  NamePtr name(X509_NAME_new());
  if (!name) return OpenSslInternal("allocating a name");
  for (const NameEntry& e : spec.subject) {
    if (X509_NAME_add_entry_by_txt(name.get(), e.type, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(e.value.data()),
                                   static_cast<int>(e.value.size()), -1, 0) != 1) {
      return OpenSslInvalid(e.field, std::string(e.field) + " is not a valid " + e.type);
    }
  }
  if (X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name.get()) != 1) {
    return OpenSslInternal("setting subject and issuer");
  }
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(spec.not_before_s)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(spec.not_after_s))) {
    return OpenSslInternal("setting the validity period");
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return OpenSslInternal("setting the key");

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    KAAS_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    KAAS_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                                      "critical,digitalSignature,keyCertSign,cRLSign"));
    KAAS_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  } else {
    KAAS_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    KAAS_RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
    if (spec.subject_alt_names.empty()) {
      KAAS_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "clientAuth"));
    } else {
      KAAS_RETURN_IF_ERROR(
          AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth"));
      KAAS_RETURN_IF_ERROR(
          AddExtension(cert.get(), &ctx, NID_subject_alt_name, spec.subject_alt_names.c_str()));
    }
    KAAS_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid"));
  }

  if (X509_sign(cert.get(), issuer_key ? issuer_key : subject_key, EVP_sha256()) <= 0) {
    return OpenSslInternal("signing the certificate");
  }
  return cert;
}

Result<CertAndKey> IssueCa(const std::string& common_name, int64_t now_s) {
  KAAS_ASSIGN_OR_RETURN(PKeyPtr key, NewP256Key());
  CertificateSpec spec{.subject = {{"CN", "cluster_name", common_name}},
                       .is_ca = true,
                       .subject_alt_names = "",
                       .not_before_s = now_s - kClockSkewSeconds,
                       .not_after_s = now_s + kCaValiditySeconds};
  KAAS_ASSIGN_OR_RETURN(X509Ptr cert, BuildCertificate(spec, key.get(), nullptr, nullptr));
  CertAndKey out;
  KAAS_ASSIGN_OR_RETURN(out.cert_pem, CertificatePem(cert.get()));
  KAAS_ASSIGN_OR_RETURN(out.key_pem, PrivateKeyPem(key.get()));
  return out;
}

Status CheckNameValue(std::string_view field, std::string_view value, size_t max_bytes) {
  if (value.empty()) return InvalidArgument(std::string(field), std::string(field) + " is empty");
  if (value.size() > max_bytes) {
    return InvalidArgument(std::string(field), std::string(field) + " is longer than " +
                                                   std::to_string(max_bytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace

Result<ClusterPki> IssueClusterPki(std::string_view cluster_name, int64_t now_unix_s) {
  ERR_clear_error();
  // The longest CN prefix is "front-proxy-ca " (15 bytes).
  KAAS_RETURN_IF_ERROR(CheckNameValue("cluster_name", cluster_name, kMaxCommonNameBytes - 15));
  const std::string name(cluster_name);
  ClusterPki pki;
  KAAS_ASSIGN_OR_RETURN(pki.ca, IssueCa("kubernetes-ca " + name, now_unix_s));
  KAAS_ASSIGN_OR_RETURN(pki.etcd_ca, IssueCa("etcd-ca " + name, now_unix_s));
  KAAS_ASSIGN_OR_RETURN(pki.front_proxy_ca, IssueCa("front-proxy-ca " + name, now_unix_s));
  KAAS_ASSIGN_OR_RETURN(PKeyPtr sa, NewP256Key());
  KAAS_ASSIGN_OR_RETURN(pki.sa_public_key_pem, PublicKeyPem(sa.get()));
  KAAS_ASSIGN_OR_RETURN(pki.sa_private_key_pem, PrivateKeyPem(sa.get()));
  return pki;
}

namespace {

// A leaf certificate signed by the CA given as PEM (the checks IssueClientCert documents).
Result<ClientCert> IssueLeaf(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                             CertificateSpec spec, int64_t ttl_seconds, int64_t now_unix_s) {
  if (ttl_seconds <= 0) return InvalidArgument("ttl_seconds", "ttl_seconds must be > 0");
  KAAS_ASSIGN_OR_RETURN(X509Ptr ca, ParseCertificate(ca_cert_pem, "ca_cert_pem"));
  KAAS_ASSIGN_OR_RETURN(PKeyPtr ca_key, ParsePrivateKey(ca_key_pem, "ca_key_pem"));
  if (X509_check_ca(ca.get()) == 0) {
    return InvalidArgument("ca_cert_pem", "ca_cert_pem is not a CA certificate");
  }
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("ca_key_pem", "ca_key_pem is not the key of ca_cert_pem");
  }
  KAAS_ASSIGN_OR_RETURN(int64_t ca_not_after, ToUnixSeconds(X509_get0_notAfter(ca.get())));
  if (now_unix_s >= ca_not_after) {
    return Status(Code::kFailedPrecondition,
                  "the CA certificate expired at Unix time " + std::to_string(ca_not_after));
  }
  spec.not_before_s = now_unix_s - kClockSkewSeconds;
  spec.not_after_s = std::min(now_unix_s + ttl_seconds, ca_not_after);

  KAAS_ASSIGN_OR_RETURN(PKeyPtr key, NewP256Key());
  KAAS_ASSIGN_OR_RETURN(X509Ptr cert, BuildCertificate(spec, key.get(), ca.get(), ca_key.get()));
  ClientCert out;
  KAAS_ASSIGN_OR_RETURN(out.cert_pem, CertificatePem(cert.get()));
  KAAS_ASSIGN_OR_RETURN(out.key_pem, PrivateKeyPem(key.get()));
  out.expires_at_s = spec.not_after_s;
  return out;
}

// RFC 1123 host names (letters, digits, '-', '.') as SAN DNS entries; nothing that could
// smuggle another entry into the extension's comma-separated text.
bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') return false;
  }
  return true;
}

}  // namespace

Result<ClientCert> IssueClientCert(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                   std::string_view common_name,
                                   const std::vector<std::string>& organizations,
                                   int64_t ttl_seconds, int64_t now_unix_s) {
  ERR_clear_error();
  KAAS_RETURN_IF_ERROR(CheckNameValue("common_name", common_name, kMaxCommonNameBytes));
  for (const std::string& o : organizations) {
    KAAS_RETURN_IF_ERROR(CheckNameValue("organizations", o, kMaxOrganizationBytes));
  }
  CertificateSpec spec;
  for (const std::string& o : organizations) spec.subject.push_back({"O", "organizations", o});
  spec.subject.push_back({"CN", "common_name", common_name});
  return IssueLeaf(ca_cert_pem, ca_key_pem, std::move(spec), ttl_seconds, now_unix_s);
}

Result<ClientCert> IssueServingCert(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                    std::string_view common_name,
                                    const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses,
                                    int64_t ttl_seconds, int64_t now_unix_s) {
  ERR_clear_error();
  KAAS_RETURN_IF_ERROR(CheckNameValue("common_name", common_name, kMaxCommonNameBytes));
  if (dns_names.empty() && ip_addresses.empty()) {
    return InvalidArgument("dns_names", "a serving certificate needs a DNS name or an IP address");
  }
  CertificateSpec spec;
  spec.subject.push_back({"CN", "common_name", common_name});
  for (const std::string& d : dns_names) {
    if (!IsDnsName(d)) return InvalidArgument("dns_names", "\"" + d + "\" is not a DNS name");
    spec.subject_alt_names += (spec.subject_alt_names.empty() ? "DNS:" : ",DNS:") + d;
  }
  for (const std::string& ip : ip_addresses) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, ip.c_str(), buf) != 1 && inet_pton(AF_INET6, ip.c_str(), buf) != 1) {
      return InvalidArgument("ip_addresses", "\"" + ip + "\" is not an IP address");
    }
    spec.subject_alt_names += (spec.subject_alt_names.empty() ? "IP:" : ",IP:") + ip;
  }
  return IssueLeaf(ca_cert_pem, ca_key_pem, std::move(spec), ttl_seconds, now_unix_s);
}

Result<std::string> CertificateSubject(std::string_view cert_pem) {
  ERR_clear_error();
  KAAS_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem, "cert_pem"));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0,
                                 XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return OpenSslInternal("printing the subject");
  }
  return BioContents(bio.get());
}

Result<int64_t> CertificateNotAfter(std::string_view cert_pem) {
  ERR_clear_error();
  KAAS_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertificate(cert_pem, "cert_pem"));
  return ToUnixSeconds(X509_get0_notAfter(cert.get()));
}

}  // namespace kaas::pki
