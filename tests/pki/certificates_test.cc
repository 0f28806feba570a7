#include "kaas/pki/certificates.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "pki_test_util.h"

namespace kaas::pki {
namespace {

using test::Quote;
using test::Sh;
using test::TempDir;

constexpr char kCluster[] = "billing-dev";

// One cluster PKI for the whole suite: key generation is the slow part.
class CertificatesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    now_ = test::NowS();
    auto pki = IssueClusterPki(kCluster, now_);
    ASSERT_TRUE(pki.ok()) << pki.status().ToString();
    pki_ = new ClusterPki(std::move(pki).value());
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  ClientCert Issue(const CertAndKey& ca, const std::string& user,
                   const std::vector<std::string>& orgs, int64_t ttl, int64_t now) {
    auto cert = IssueClientCert(ca.cert_pem, ca.key_pem, user, orgs, ttl, now);
    EXPECT_TRUE(cert.ok()) << cert.status().ToString();
    return cert.ok() ? cert.value() : ClientCert{};
  }

  // `openssl verify` of `cert_pem` against `ca_pem` as the only trust anchor.
  test::CommandResult Verify(const std::string& ca_pem, const std::string& cert_pem,
                             const std::string& extra_flags = "") {
    std::string ca = dir_.Write("verify-ca.pem", ca_pem);
    std::string cert = dir_.Write("verify-cert.pem", cert_pem);
    return Sh("openssl verify -x509_strict " + extra_flags + " -CAfile " + Quote(ca) + " " +
              Quote(cert));
  }

  std::string OpenSsl(const std::string& args, const std::string& input_pem) {
    std::string in = dir_.Write("input.pem", input_pem);
    auto r = Sh("openssl " + args + " -in " + Quote(in));
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.output;
    return r.output;
  }

  static int64_t now_;
  static ClusterPki* pki_;
  TempDir dir_;
};

int64_t CertificatesTest::now_ = 0;
ClusterPki* CertificatesTest::pki_ = nullptr;

TEST_F(CertificatesTest, EachCaIsASelfSignedTenYearCaWithItsOwnName) {
  struct Case {
    const CertAndKey* ca;
    std::string common_name;
  };
  const std::vector<Case> cases = {
      {&pki_->ca, "kubernetes-ca billing-dev"},
      {&pki_->etcd_ca, "etcd-ca billing-dev"},
      {&pki_->front_proxy_ca, "front-proxy-ca billing-dev"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.common_name);
    auto verify = Verify(c.ca->cert_pem, c.ca->cert_pem);
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find(": OK"), std::string::npos) << verify.output;

    EXPECT_EQ(OpenSsl("x509 -noout -subject", c.ca->cert_pem),
              "subject=CN = " + c.common_name + "\n");
    EXPECT_EQ(OpenSsl("x509 -noout -issuer", c.ca->cert_pem),
              "issuer=CN = " + c.common_name + "\n");
    std::string ext = OpenSsl("x509 -noout -ext basicConstraints,keyUsage", c.ca->cert_pem);
    EXPECT_NE(ext.find("Basic Constraints: critical\n    CA:TRUE"), std::string::npos) << ext;
    EXPECT_NE(ext.find("Key Usage: critical"), std::string::npos) << ext;
    EXPECT_NE(ext.find("Certificate Sign"), std::string::npos) << ext;

    EXPECT_EQ(CertificateSubject(c.ca->cert_pem).value(), "CN=" + c.common_name);
    EXPECT_EQ(CertificateNotAfter(c.ca->cert_pem).value(), now_ + kCaValiditySeconds);
    auto ten_years =
        Sh("openssl x509 -noout -checkend " + std::to_string(kCaValiditySeconds - 3600) + " -in " +
           Quote(dir_.Write("ca.pem", c.ca->cert_pem)));
    EXPECT_EQ(ten_years.exit_code, 0) << ten_years.output;

    // The key is P-256 and belongs to the certificate.
    EXPECT_NE(OpenSsl("pkey -noout -text", c.ca->key_pem).find("NIST CURVE: P-256"),
              std::string::npos);
    EXPECT_EQ(OpenSsl("x509 -noout -pubkey", c.ca->cert_pem),
              OpenSsl("pkey -pubout", c.ca->key_pem));
  }
}

TEST_F(CertificatesTest, TheThreeCasAreDistinct) {
  std::set<std::string> certs = {pki_->ca.cert_pem, pki_->etcd_ca.cert_pem,
                                 pki_->front_proxy_ca.cert_pem};
  std::set<std::string> keys = {pki_->ca.key_pem, pki_->etcd_ca.key_pem,
                                pki_->front_proxy_ca.key_pem, pki_->sa_private_key_pem};
  EXPECT_EQ(certs.size(), 3u);
  EXPECT_EQ(keys.size(), 4u);
  EXPECT_NE(OpenSsl("pkey -pubout", pki_->ca.key_pem),
            OpenSsl("pkey -pubout", pki_->etcd_ca.key_pem));
}

TEST_F(CertificatesTest, ACertificateVerifiesOnlyAgainstTheCaThatSignedIt) {
  const std::vector<std::pair<std::string, const CertAndKey*>> cas = {
      {"cluster", &pki_->ca}, {"etcd", &pki_->etcd_ca}, {"front-proxy", &pki_->front_proxy_ca}};
  for (const auto& [signer_name, signer] : cas) {
    ClientCert cert = Issue(*signer, "alice", {"payments"}, 3600, now_);
    for (const auto& [anchor_name, anchor] : cas) {
      SCOPED_TRACE("signed by " + signer_name + " CA, verified against " + anchor_name + " CA");
      auto r = Verify(anchor->cert_pem, cert.cert_pem);
      if (signer == anchor) {
        EXPECT_EQ(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find(": OK"), std::string::npos) << r.output;
      } else {
        EXPECT_NE(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("unable to get local issuer certificate"), std::string::npos)
            << r.output;
      }
    }
  }
}

TEST_F(CertificatesTest, ServiceAccountKeysAreAMatchingP256Pair) {
  EXPECT_EQ(OpenSsl("pkey -pubout", pki_->sa_private_key_pem), pki_->sa_public_key_pem);
  EXPECT_NE(pki_->sa_public_key_pem.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_NE(OpenSsl("pkey -noout -text", pki_->sa_private_key_pem).find("NIST CURVE: P-256"),
            std::string::npos);
  // A token signed with sa.key verifies with sa.pub, as kube-apiserver does with them.
  std::string key = dir_.Write("sa.key", pki_->sa_private_key_pem);
  std::string pub = dir_.Write("sa.pub", pki_->sa_public_key_pem);
  std::string data = dir_.Write("token", "header.payload");
  std::string sig = dir_.File("token.sig");
  auto sign =
      Sh("openssl dgst -sha256 -sign " + Quote(key) + " -out " + Quote(sig) + " " + Quote(data));
  ASSERT_EQ(sign.exit_code, 0) << sign.output;
  auto verify = Sh("openssl dgst -sha256 -verify " + Quote(pub) + " -signature " + Quote(sig) +
                   " " + Quote(data));
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find("Verified OK"), std::string::npos) << verify.output;
}

TEST_F(CertificatesTest, ClientCertVerifiesForClientAuthWithUserAndTeams) {
  ClientCert cert = Issue(pki_->ca, "alice", {"payments", "sre"}, 3600, now_);

  auto verify = Verify(pki_->ca.cert_pem, cert.cert_pem);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find(": OK"), std::string::npos) << verify.output;
  auto client = Verify(pki_->ca.cert_pem, cert.cert_pem, "-purpose sslclient");
  EXPECT_EQ(client.exit_code, 0) << client.output;
  auto server = Verify(pki_->ca.cert_pem, cert.cert_pem, "-purpose sslserver");
  EXPECT_NE(server.exit_code, 0) << "a user certificate must not serve TLS: " << server.output;

  EXPECT_EQ(OpenSsl("x509 -noout -subject", cert.cert_pem),
            "subject=O = payments, O = sre, CN = alice\n");
  EXPECT_EQ(OpenSsl("x509 -noout -issuer", cert.cert_pem),
            "issuer=CN = kubernetes-ca billing-dev\n");
  EXPECT_EQ(CertificateSubject(cert.cert_pem).value(), "CN=alice,O=sre,O=payments");

  std::string ext =
      OpenSsl("x509 -noout -ext basicConstraints,keyUsage,extendedKeyUsage", cert.cert_pem);
  EXPECT_NE(ext.find("CA:FALSE"), std::string::npos) << ext;
  EXPECT_NE(ext.find("Digital Signature"), std::string::npos) << ext;
  EXPECT_EQ(ext.find("Certificate Sign"), std::string::npos) << ext;
  EXPECT_NE(ext.find("TLS Web Client Authentication"), std::string::npos) << ext;
  EXPECT_EQ(ext.find("TLS Web Server Authentication"), std::string::npos) << ext;

  EXPECT_EQ(OpenSsl("x509 -noout -pubkey", cert.cert_pem), OpenSsl("pkey -pubout", cert.key_pem));
}

TEST_F(CertificatesTest, EtcdMemberCertServesAndAuthenticatesForItsNamesOnly) {
  auto issued = IssueServingCert(pki_->etcd_ca.cert_pem, pki_->etcd_ca.key_pem, "m1",
                                 {"m1", "localhost"}, {"127.0.0.1", "10.0.2.2"}, 3600, now_);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  const ClientCert& cert = *issued;

  for (const char* purpose : {"sslserver", "sslclient"}) {
    auto v = Verify(pki_->etcd_ca.cert_pem, cert.cert_pem, std::string("-purpose ") + purpose);
    EXPECT_EQ(v.exit_code, 0) << purpose << ": " << v.output;
  }
  EXPECT_EQ(Verify(pki_->etcd_ca.cert_pem, cert.cert_pem, "-verify_ip 10.0.2.2").exit_code, 0);
  EXPECT_EQ(Verify(pki_->etcd_ca.cert_pem, cert.cert_pem, "-verify_hostname m1").exit_code, 0);
  EXPECT_NE(Verify(pki_->etcd_ca.cert_pem, cert.cert_pem, "-verify_ip 10.0.2.3").exit_code, 0)
      << "an address the certificate does not name must not verify";
  EXPECT_NE(Verify(pki_->etcd_ca.cert_pem, cert.cert_pem, "-verify_hostname m2").exit_code, 0);
  EXPECT_NE(Verify(pki_->ca.cert_pem, cert.cert_pem).exit_code, 0)
      << "signed by the etcd CA, not the cluster CA";
  EXPECT_EQ(OpenSsl("x509 -noout -subject", cert.cert_pem), "subject=CN = m1\n");
  std::string san = OpenSsl("x509 -noout -ext subjectAltName", cert.cert_pem);
  EXPECT_NE(san.find("DNS:m1, DNS:localhost, IP Address:127.0.0.1, IP Address:10.0.2.2"),
            std::string::npos)
      << san;
}

TEST_F(CertificatesTest, ServingCertNamesCannotSmuggleExtensionSyntax) {
  const auto& ca = pki_->etcd_ca;
  auto dns = IssueServingCert(ca.cert_pem, ca.key_pem, "m1", {"m1,IP:1.2.3.4"}, {}, 3600, now_);
  ASSERT_FALSE(dns.ok());
  EXPECT_EQ(dns.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(dns.status().field(), "dns_names");
  auto ip = IssueServingCert(ca.cert_pem, ca.key_pem, "m1", {}, {"10.0.2.300"}, 3600, now_);
  ASSERT_FALSE(ip.ok());
  EXPECT_EQ(ip.status().field(), "ip_addresses");
  auto none = IssueServingCert(ca.cert_pem, ca.key_pem, "m1", {}, {}, 3600, now_);
  EXPECT_FALSE(none.ok());
}

TEST_F(CertificatesTest, WithoutOrganizationsTheSubjectIsTheUserAlone) {
  ClientCert cert = Issue(pki_->ca, "ci-bot", {}, 600, now_);
  EXPECT_EQ(OpenSsl("x509 -noout -subject", cert.cert_pem), "subject=CN = ci-bot\n");
}

TEST_F(CertificatesTest, ExpiryIsNowPlusTtl) {
  ClientCert cert = Issue(pki_->ca, "alice", {"payments"}, 3600, now_);
  EXPECT_EQ(cert.expires_at_s, now_ + 3600);
  EXPECT_EQ(CertificateNotAfter(cert.cert_pem).value(), now_ + 3600);

  std::string pem = dir_.Write("client.pem", cert.cert_pem);
  const int64_t elapsed = test::NowS() - now_;
  auto alive = Sh("openssl x509 -noout -checkend " + std::to_string(3600 - elapsed - 60) + " -in " +
                  Quote(pem));
  EXPECT_EQ(alive.exit_code, 0) << "should still be valid a minute before expiry: " << alive.output;
  auto dead = Sh("openssl x509 -noout -checkend " + std::to_string(3600 - elapsed + 60) + " -in " +
                 Quote(pem));
  EXPECT_EQ(dead.exit_code, 1) << "should have expired a minute after: " << dead.output;
}

TEST_F(CertificatesTest, AnExpiredClientCertIsRejectedByOpenssl) {
  ClientCert cert = Issue(pki_->ca, "alice", {"payments"}, 3600, test::NowS() - 7200);
  auto r = Verify(pki_->ca.cert_pem, cert.cert_pem);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("certificate has expired"), std::string::npos) << r.output;
}

TEST_F(CertificatesTest, NotBeforeIsBackdatedFiveMinutesForClockSkew) {
  // Issued by a server whose clock is 4 minutes ahead: valid here already.
  ClientCert ahead = Issue(pki_->ca, "alice", {"payments"}, 3600, test::NowS() + 240);
  auto ok = Verify(pki_->ca.cert_pem, ahead.cert_pem);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  // 10 minutes ahead is beyond the allowance.
  ClientCert far = Issue(pki_->ca, "alice", {"payments"}, 3600, test::NowS() + 600);
  auto bad = Verify(pki_->ca.cert_pem, far.cert_pem);
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("not yet valid"), std::string::npos) << bad.output;
}

TEST_F(CertificatesTest, SerialsAreRandom128Bit) {
  std::set<std::string> serials;
  for (int i = 0; i < 5; ++i) {
    std::string s = OpenSsl("x509 -noout -serial", Issue(pki_->ca, "a", {}, 60, now_).cert_pem);
    ASSERT_EQ(s.rfind("serial=", 0), 0u) << s;
    // 128 random bits are 32 hex digits; a few leading zero digits are possible.
    EXPECT_GE(s.size(), std::string("serial=\n").size() + 24) << s;
    EXPECT_LE(s.size(), std::string("serial=\n").size() + 32) << s;
    serials.insert(s);
  }
  EXPECT_EQ(serials.size(), 5u);
}

TEST_F(CertificatesTest, ClientCertNeverOutlivesItsCa) {
  const int64_t late = now_ + kCaValiditySeconds - 100;
  auto cert = IssueClientCert(pki_->ca.cert_pem, pki_->ca.key_pem, "alice", {}, 3600, late);
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_EQ(cert->expires_at_s, now_ + kCaValiditySeconds);
  EXPECT_EQ(CertificateNotAfter(cert->cert_pem).value(), now_ + kCaValiditySeconds);
}

TEST_F(CertificatesTest, BadClientCertRequestsAreRefusedWithTheField) {
  ClientCert leaf = Issue(pki_->ca, "leaf", {}, 600, now_);
  struct Case {
    std::string name;
    std::string ca_cert;
    std::string ca_key;
    std::string cn;
    std::vector<std::string> orgs;
    int64_t ttl;
    std::string field;
  };
  const CertAndKey& ca = pki_->ca;
  const std::vector<Case> cases = {
      {"empty user", ca.cert_pem, ca.key_pem, "", {}, 60, "common_name"},
      {"65-byte user", ca.cert_pem, ca.key_pem, std::string(65, 'u'), {}, 60, "common_name"},
      {"empty team", ca.cert_pem, ca.key_pem, "alice", {"payments", ""}, 60, "organizations"},
      {"zero ttl", ca.cert_pem, ca.key_pem, "alice", {}, 0, "ttl_seconds"},
      {"negative ttl", ca.cert_pem, ca.key_pem, "alice", {}, -5, "ttl_seconds"},
      {"garbage CA cert", "not a pem", ca.key_pem, "alice", {}, 60, "ca_cert_pem"},
      {"garbage CA key", ca.cert_pem, "not a pem", "alice", {}, 60, "ca_key_pem"},
      {"key of another CA", ca.cert_pem, pki_->etcd_ca.key_pem, "alice", {}, 60, "ca_key_pem"},
      {"leaf used as CA", leaf.cert_pem, leaf.key_pem, "alice", {}, 60, "ca_cert_pem"},
  };
  for (const Case& c : cases) {
    auto r = IssueClientCert(c.ca_cert, c.ca_key, c.cn, c.orgs, c.ttl, now_);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.name << ": " << r.status().ToString();
    EXPECT_EQ(r.status().field(), c.field) << c.name << ": " << r.status().ToString();
  }
}

TEST_F(CertificatesTest, UnparsablePemCarriesTheOpensslReason) {
  auto r = IssueClientCert("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                           pki_->ca.key_pem, "alice", {}, 60, now_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("error:"), std::string::npos) << r.status().message();
}

TEST_F(CertificatesTest, AnExpiredCaIssuesNothing) {
  auto r = IssueClientCert(pki_->ca.cert_pem, pki_->ca.key_pem, "alice", {}, 60,
                           now_ + kCaValiditySeconds);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
}

TEST(ClusterPkiTest, ClusterNameMustFitInACommonName) {
  for (const std::string& name : {std::string(), std::string(50, 'c')}) {
    auto r = IssueClusterPki(name, test::NowS());
    ASSERT_FALSE(r.ok()) << name.size();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().field(), "cluster_name");
  }
  EXPECT_TRUE(IssueClusterPki(std::string(49, 'c'), test::NowS()).ok());
}

TEST(CertificateInfoTest, NonCertificatesAreInvalidArguments) {
  EXPECT_EQ(CertificateSubject("hello").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CertificateNotAfter("").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace kaas::pki
