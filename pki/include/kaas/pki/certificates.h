#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kaas/common/status.h"

// X.509 material of a cluster, made in-process with OpenSSL 3. Keys are ECDSA P-256
// (accepted by kube-apiserver, etcd, kubectl and `openssl verify`); signatures ECDSA-SHA256.
// Times are Unix seconds. Every function is thread-safe and never throws.
namespace kaas::pki {

// Certificates are backdated by this much, so that a node whose clock is slightly behind the
// issuer's accepts them at once.
inline constexpr int64_t kClockSkewSeconds = 5 * 60;
// Lifetime of the cluster CAs (as kubeadm: 10 years).
inline constexpr int64_t kCaValiditySeconds = int64_t{3650} * 24 * 3600;

// A certificate and its private key. The key is unencrypted PKCS#8 PEM ("PRIVATE KEY");
// whoever stores it seals it first (SecretBox).
struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// Everything a cluster's control plane needs that must not be shared with any other cluster.
struct ClusterPki {
  CertAndKey ca;                   // "kubernetes-ca <cluster>": API server, kubelets, users.
  CertAndKey etcd_ca;              // "etcd-ca <cluster>": etcd servers, peers and clients only.
  CertAndKey front_proxy_ca;       // "front-proxy-ca <cluster>": aggregation-layer proxy client.
  std::string sa_public_key_pem;   // SubjectPublicKeyInfo PEM ("PUBLIC KEY"), kubeadm's sa.pub.
  std::string sa_private_key_pem;  // PKCS#8 PEM, kubeadm's sa.key; signs service-account tokens.
};

// Three distinct self-signed CAs (fresh key each, basicConstraints critical CA:TRUE, keyUsage
// critical keyCertSign+cRLSign+digitalSignature, subjectKeyIdentifier, random 128-bit serial,
// valid [now - kClockSkewSeconds, now + kCaValiditySeconds]) and a service-account key pair.
// kInvalidArgument (field "cluster_name") when the name is empty or too long for a CN
// (at most 49 bytes); kInternal with the OpenSSL error string if OpenSSL fails.
Result<ClusterPki> IssueClusterPki(std::string_view cluster_name, int64_t now_unix_s);

struct ClientCert {
  std::string cert_pem;
  std::string key_pem;     // PKCS#8 PEM of a fresh P-256 key.
  int64_t expires_at_s{};  // notAfter, Unix seconds.
};

// A client certificate for a Kubernetes user, signed by the CA given as PEM: subject
// O=<each organization> (Kubernetes groups), CN=<common_name> (the user name); basicConstraints
// critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage clientAuth,
// authorityKeyIdentifier; random 128-bit serial; valid [now - kClockSkewSeconds, now + ttl],
// where notAfter is capped at the CA's own notAfter (expires_at_s says what was issued).
// kInvalidArgument (with the field) for an empty or >64-byte name or organization, ttl <= 0,
// an unparsable CA certificate or key, a certificate that is not a CA, or a key that does not
// belong to it; kFailedPrecondition when the CA has expired at `now`; kInternal (with the
// OpenSSL error string) when OpenSSL fails.
Result<ClientCert> IssueClientCert(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                   std::string_view common_name,
                                   const std::vector<std::string>& organizations,
                                   int64_t ttl_seconds, int64_t now_unix_s);

// A certificate for a server that is also a client of its peers (an etcd member: client and
// peer TLS with one key pair), signed by the CA given as PEM: subject CN=<common_name>;
// subjectAltName with each DNS name (letters, digits, '-' and '.') and IP address (v4 or v6);
// extendedKeyUsage serverAuth+clientAuth; otherwise as IssueClientCert, with the same errors,
// and kInvalidArgument ("dns_names" / "ip_addresses") for a malformed or missing name.
Result<ClientCert> IssueServingCert(std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                    std::string_view common_name,
                                    const std::vector<std::string>& dns_names,
                                    const std::vector<std::string>& ip_addresses,
                                    int64_t ttl_seconds, int64_t now_unix_s);

// Subject of the first certificate in `cert_pem`, RFC 2253 ("CN=alice,O=payments": most
// specific first). kInvalidArgument when it is not a PEM certificate.
Result<std::string> CertificateSubject(std::string_view cert_pem);

// notAfter of the first certificate in `cert_pem`, Unix seconds. kInvalidArgument when it is not
// a PEM certificate.
Result<int64_t> CertificateNotAfter(std::string_view cert_pem);

}  // namespace kaas::pki
