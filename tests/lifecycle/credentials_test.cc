#include "kaas/lifecycle/credentials.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/pki/certificates.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "lifecycle_fakes.h"
#include "status_testing.h"

namespace kaas::lifecycle {
namespace {

constexpr const char* kTeamId = "tm-1";
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr int64_t kHourS = 3600;

// ------------------------------------------------------------------ fakes

// Hypervisors that always work: domains are kept in memory, per hypervisor.
class MemoryFleet : public provisioner::Fleet {
 public:
  class MemoryHypervisor : public provisioner::Hypervisor {
   public:
    explicit MemoryHypervisor(std::string name) : name_(std::move(name)) {}
    const std::string& name() const override { return name_; }
    Result<provisioner::DomainInfo> EnsureDomainRunning(
        const provisioner::DomainSpec& spec) override {
      std::lock_guard lock(mu_);
      auto& d = domains_[spec.name];
      d = {spec.name, true, spec.vcpus, spec.memory_gib, spec.owner};
      return d;
    }
    Result<provisioner::DomainInfo> ResizeDomain(const provisioner::DomainSpec& spec) override {
      std::lock_guard lock(mu_);
      auto it = domains_.find(spec.name);
      if (it == domains_.end()) return NotFound("domain " + spec.name);
      it->second.vcpus = spec.vcpus;
      it->second.memory_gib = spec.memory_gib;
      return it->second;
    }
    Status DestroyDomain(const std::string& domain_name) override {
      std::lock_guard lock(mu_);
      domains_.erase(domain_name);
      return Status::Ok();
    }
    Status PowerOff(const std::string&) override { return Status::Ok(); }
    Result<provisioner::DomainInfo> FindDomain(const std::string& domain_name) override {
      std::lock_guard lock(mu_);
      auto it = domains_.find(domain_name);
      if (it == domains_.end()) return NotFound("domain " + domain_name);
      return it->second;
    }
    Result<std::vector<provisioner::DomainInfo>> ListDomains() override {
      std::lock_guard lock(mu_);
      std::vector<provisioner::DomainInfo> out;
      for (const auto& [n, d] : domains_) out.push_back(d);
      return out;
    }

   private:
    std::string name_;
    std::mutex mu_;
    std::map<std::string, provisioner::DomainInfo> domains_;
  };

  Result<provisioner::Hypervisor*> Get(const std::string& name, const std::string& uri) override {
    std::lock_guard lock(mu_);
    if (uri != "fake://" + name) return Unavailable("cannot connect to " + uri);
    auto& hv = hypervisors_[name];
    if (!hv) hv = std::make_unique<MemoryHypervisor>(name);
    return hv.get();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<MemoryHypervisor>> hypervisors_;
};

class NoopBootstrapper : public provisioner::Bootstrapper {
 public:
  Result<std::string> Run(const provisioner::BootstrapJob& job) override {
    return "fake " + job.playbook;
  }
  Result<provisioner::EtcdView> AskEtcd(const provisioner::BootstrapJob& job) override {
    return provisioner::EtcdView{job.targets.at(0), {}};  // no membership changes here
  }
};

// The time the credential service sees; set by each test.
class FixedClock : public Clock {
 public:
  int64_t NowMs() const override { return ms_.load(); }
  void SetSeconds(int64_t s) { ms_ = s * 1000; }

 private:
  std::atomic<int64_t> ms_{0};
};

int64_t SystemNowS() { return SystemClock::Instance().NowMs() / 1000; }

// ------------------------------------------------------------------ X.509 checks

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

X509Ptr ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = bio ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  return X509Ptr(x);
}

PkeyPtr ParseKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  return PkeyPtr(k);
}

// `cert_pem` names `ca_pem` as its issuer and carries a valid signature by the CA's key.
bool SignedBy(const std::string& cert_pem, const std::string& ca_pem) {
  X509Ptr cert = ParseCert(cert_pem), ca = ParseCert(ca_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  return ca_key != nullptr && X509_check_issued(ca.get(), cert.get()) == X509_V_OK &&
         X509_verify(cert.get(), ca_key) == 1;
}

bool KeyMatches(const std::string& cert_pem, const std::string& key_pem) {
  X509Ptr cert = ParseCert(cert_pem);
  PkeyPtr key = ParseKey(key_pem);
  return cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
}

std::string Decode(const YAML::Node& node) {
  std::vector<unsigned char> bin = YAML::DecodeBase64(node.as<std::string>());
  return std::string(bin.begin(), bin.end());
}

// What a kubeconfig hands its user.
struct Parsed {
  std::string cluster_name;
  std::string server;
  std::string ca_cert;
  std::string user_name;
  std::string client_cert;
  std::string client_key;
  std::string current_context;
};

// Parses a kubeconfig with yaml-cpp; fails the test when its shape is not a v1 Config with one
// cluster, one user and one context that tie together.
void ParseKubeconfig(const std::string& yaml, Parsed& out) {
  YAML::Node doc;
  ASSERT_NO_THROW(doc = YAML::Load(yaml)) << yaml;
  ASSERT_TRUE(doc.IsMap()) << yaml;
  EXPECT_EQ(doc["apiVersion"].as<std::string>(""), "v1");
  EXPECT_EQ(doc["kind"].as<std::string>(""), "Config");
  ASSERT_TRUE(doc["clusters"].IsSequence()) << yaml;
  ASSERT_EQ(doc["clusters"].size(), 1u);
  ASSERT_TRUE(doc["users"].IsSequence()) << yaml;
  ASSERT_EQ(doc["users"].size(), 1u);
  ASSERT_TRUE(doc["contexts"].IsSequence()) << yaml;
  ASSERT_EQ(doc["contexts"].size(), 1u);
  const YAML::Node cluster = doc["clusters"][0];
  const YAML::Node user = doc["users"][0];
  const YAML::Node context = doc["contexts"][0];
  out.cluster_name = cluster["name"].as<std::string>("");
  out.server = cluster["cluster"]["server"].as<std::string>("");
  ASSERT_TRUE(cluster["cluster"]["certificate-authority-data"].IsScalar()) << yaml;
  out.ca_cert = Decode(cluster["cluster"]["certificate-authority-data"]);
  out.user_name = user["name"].as<std::string>("");
  ASSERT_TRUE(user["user"]["client-certificate-data"].IsScalar()) << yaml;
  ASSERT_TRUE(user["user"]["client-key-data"].IsScalar()) << yaml;
  out.client_cert = Decode(user["user"]["client-certificate-data"]);
  out.client_key = Decode(user["user"]["client-key-data"]);
  out.current_context = doc["current-context"].as<std::string>("");
  EXPECT_EQ(context["name"].as<std::string>(""), out.current_context);
  EXPECT_EQ(context["context"]["cluster"].as<std::string>(""), out.cluster_name);
  EXPECT_EQ(context["context"]["user"].as<std::string>(""), out.user_name);
}

// ------------------------------------------------------------------ fixture

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

// A kaasd installation with in-memory hypervisors: clusters are really created (reserve,
// issue_pki, provisioning, bootstrap, verify) by the engine before credentials are asked for.
class CredentialServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-credentials-" + std::to_string(getpid()) + "-" + TestName());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open("sqlite://" + (dir_ / "kaas.db").string(), 4);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->Migrate().ok());
    ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                     store::teams::Insert(tx, {kTeamId, "payments", 1});
                     for (const char* hv : {"sim-1", "sim-2", "sim-3"}) {
                       store::hypervisors::Upsert(
                           tx, {hv, std::string("fake://") + hv, 128, 512, "active", 1});
                     }
                     return Status::Ok();
                   })
                    .ok());
    auto box = pki::SecretBox::LoadOrCreate((dir_ / "secret.key").string());
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    box_.emplace(std::move(box).value());
    steps_ = std::make_unique<ClusterSteps>(
        StepDeps{*db_, fleet_, bootstrapper_, dir_ / "work", SystemClock::Instance(), *box_});
    clock_.SetSeconds(SystemNowS());
    credentials_ = std::make_unique<CredentialService>(*db_, *box_, clock_, CredentialOptions{});
    StartEngine();
  }

  void TearDown() override {
    credentials_.reset();
    service_.reset();
    if (engine_) engine_->Shutdown();
    engine_.reset();
    steps_.reset();
    box_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)starts the engine; with `crash_before` >= 0 every operation is abandoned right before
  // that step, as by a kill -9.
  void StartEngine(int64_t crash_before = -1) {
    service_.reset();
    if (engine_) engine_->Shutdown();
    engine_.reset();
    EngineOptions o = test_support::Env::FastOptions();
    if (crash_before >= 0) {
      o.hooks = std::make_shared<test_support::BeforeStepHooks>(
          [crash_before](const std::string&, int64_t i) { return i != crash_before; });
    }
    engine_ = std::make_unique<Engine>(*db_, *steps_, SystemClock::Instance(), std::move(o));
    service_ = std::make_unique<ClusterService>(*db_, quota_, *engine_, SystemClock::Instance());
    Status st = engine_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  static CreateClusterRequest DevRequest(const std::string& name) {
    CreateClusterRequest r;
    r.name = name;
    r.team = "payments";
    r.purpose = "dev";
    r.worker_count = 1;
    r.worker_kind = "vm";
    r.worker_flavor = "w.medium";
    return r;
  }

  std::string WaitForOperation(const std::string& op_id) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<store::Operation> op;
      EXPECT_OK(db_->Read([&](store::Tx& tx) {
        op = store::operations::Find(tx, op_id);
        return Status::Ok();
      }));
      if (!op) return "missing";
      if (op->state == "succeeded" || op->state == "failed" || op->state == "cancelled") {
        return op->state;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "timeout";
  }

  void WaitIdle() {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (engine_->InFlight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_EQ(engine_->InFlight(), 0u) << "engine still busy after deadline";
  }

  // Creates the cluster and waits for the create to succeed; its id, or "" on failure.
  std::string CreateCluster(const std::string& name) {
    auto created = service_->Create(DevRequest(name), kTeamId, "alice", false);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    if (!created.ok()) return "";
    std::string state = WaitForOperation(created->operation.id);
    EXPECT_EQ(state, "succeeded");
    return state == "succeeded" ? created->cluster.id : "";
  }

  std::optional<store::ClusterSecrets> Secrets(const std::string& cluster_id) {
    std::optional<store::ClusterSecrets> s;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      s = store::secrets::Get(tx, cluster_id);
      return Status::Ok();
    }));
    return s;
  }

  // Gives the cluster's masters recognisable addresses: master-N gets 10.20.30.N.
  void SetMasterAddresses(const std::string& cluster_id) {
    ASSERT_TRUE(db_->Write([&](store::Tx& tx) {
                     for (const auto& n : store::nodes::ListLive(tx, cluster_id)) {
                       if (n.role != "master") continue;
                       store::nodes::SetAddress(
                           tx, n.id, "10.20.30." + n.name.substr(n.name.find('-') + 1), 1);
                     }
                     return Status::Ok();
                   })
                    .ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  MemoryFleet fleet_;
  NoopBootstrapper bootstrapper_;
  std::optional<pki::SecretBox> box_;
  quota::QuotaService quota_{quota::Limits{/*clusters=*/20, /*vcpus=*/1000,
                                           /*memory_gib=*/4000, /*physical_hosts=*/0}};
  std::unique_ptr<ClusterSteps> steps_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ClusterService> service_;
  FixedClock clock_;
  std::unique_ptr<CredentialService> credentials_;
};

// ------------------------------------------------------------------ tests

TEST_F(CredentialServiceTest, KubeconfigOfACreatedClusterCarriesAClientCertSignedByItsCa) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  SetMasterAddresses(id);
  const int64_t now = SystemNowS();
  clock_.SetSeconds(now);

  auto yaml =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 5);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  Parsed k;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(k.cluster_name, "billing-dev");
  EXPECT_EQ(k.user_name, "alice@billing-dev");
  EXPECT_EQ(k.current_context, "alice@billing-dev");
  EXPECT_EQ(k.server, "https://10.20.30.1:6443") << "the first master's address";

  auto secrets = Secrets(id);
  ASSERT_TRUE(secrets.has_value());
  EXPECT_EQ(k.ca_cert, secrets->ca_cert) << "the cluster CA, not the etcd or front-proxy one";

  auto subject = pki::CertificateSubject(k.client_cert);
  ASSERT_TRUE(subject.ok()) << subject.status().ToString();
  EXPECT_EQ(*subject, "CN=alice,O=payments:edit,O=payments");
  auto not_after = pki::CertificateNotAfter(k.client_cert);
  ASSERT_TRUE(not_after.ok()) << not_after.status().ToString();
  EXPECT_EQ(*not_after, now + 5 * kHourS);

  EXPECT_TRUE(SignedBy(k.client_cert, secrets->ca_cert)) << "not signed by the cluster CA";
  EXPECT_FALSE(SignedBy(k.client_cert, secrets->etcd_ca_cert));
  EXPECT_FALSE(SignedBy(k.client_cert, secrets->front_proxy_ca_cert));
  EXPECT_TRUE(KeyMatches(k.client_cert, k.client_key)) << "client key does not fit the cert";
  EXPECT_EQ(k.client_key.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);

  // The CA's own key never leaves the database.
  auto ca_key = box_->Open(secrets->ca_key_sealed);
  ASSERT_TRUE(ca_key.ok()) << ca_key.status().ToString();
  EXPECT_NE(k.client_key, *ca_key);
  EXPECT_EQ(yaml->find("PRIVATE KEY"), std::string::npos) << "keys are inline as base64 only";

  // Each kubeconfig has a fresh key pair.
  auto again =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 5);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Parsed k2;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*again, k2));
  EXPECT_NE(k2.client_key, k.client_key);
  EXPECT_NE(k2.client_cert, k.client_cert);
  EXPECT_TRUE(SignedBy(k2.client_cert, secrets->ca_cert));
}

TEST_F(CredentialServiceTest, ServerIsTheFirstMastersAddressOnPort6443) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  // As provisioned (the fake fleet's addresses): master-1's.
  std::string master1;
  EXPECT_OK(db_->Read([&](store::Tx& tx) {
    for (const auto& n : store::nodes::ListLive(tx, id)) {
      if (n.name == "master-1") master1 = n.address;
    }
    return Status::Ok();
  }));
  ASSERT_FALSE(master1.empty());
  Parsed k;
  auto yaml =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(k.server, "https://" + master1 + ":6443");

  SetMasterAddresses(id);
  yaml = credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(k.server, "https://10.20.30.1:6443");
}

TEST_F(CredentialServiceTest, ZeroTtlMeansTheDefaultOf24Hours) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(credentials_->options().default_ttl_hours, 24);
  const int64_t now = SystemNowS();
  clock_.SetSeconds(now);
  auto yaml = credentials_->Kubeconfig(id, "bob", "payments", provisioner::ClusterAccess::kEdit, 0);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  Parsed k;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(pki::CertificateSubject(k.client_cert).value(), "CN=bob,O=payments:edit,O=payments");
  EXPECT_EQ(pki::CertificateNotAfter(k.client_cert).value(), now + 24 * kHourS);

  // The default is the service's option, not a constant.
  CredentialService short_lived(*db_, *box_, clock_, CredentialOptions{2, 168});
  yaml = short_lived.Kubeconfig(id, "bob", "payments", provisioner::ClusterAccess::kEdit, 0);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(pki::CertificateNotAfter(k.client_cert).value(), now + 2 * kHourS);
}

TEST_F(CredentialServiceTest, TtlBoundsAreOneHourToTheMaximum) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  const int64_t max = credentials_->options().max_ttl_hours;
  ASSERT_EQ(max, 168);
  const int64_t now = SystemNowS();
  clock_.SetSeconds(now);
  for (int64_t ttl : {int64_t{1}, max}) {
    SCOPED_TRACE("ttl " + std::to_string(ttl));
    auto yaml =
        credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, ttl);
    ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
    Parsed k;
    ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
    EXPECT_EQ(pki::CertificateNotAfter(k.client_cert).value(), now + ttl * kHourS);
  }
  for (int64_t ttl : {max + 1, int64_t{10000}, int64_t{-1}, int64_t{-24}}) {
    SCOPED_TRACE("ttl " + std::to_string(ttl));
    auto yaml =
        credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, ttl);
    ASSERT_FALSE(yaml.ok());
    EXPECT_EQ(yaml.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(yaml.status().field(), "ttl_hours");
    EXPECT_NE(yaml.status().message().find(std::to_string(max)), std::string::npos)
        << yaml.status().message();
  }
}

TEST_F(CredentialServiceTest, UnknownClusterIsNotFound) {
  auto yaml = credentials_->Kubeconfig("cl-nope", "alice", "payments",
                                       provisioner::ClusterAccess::kEdit, 1);
  EXPECT_EQ(yaml.status().code(), Code::kNotFound);
  EXPECT_NE(yaml.status().message().find("cl-nope"), std::string::npos) << yaml.status().message();
}

TEST_F(CredentialServiceTest, ClusterWhosePkiIsNotIssuedYetIsFailedPrecondition) {
  StartEngine(/*crash_before=*/1);  // reserve runs, issue_pki does not
  auto created = service_->Create(DevRequest("billing-dev"), kTeamId, "alice", false);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->operation.steps.at(1).kind, "issue_pki");
  ASSERT_NO_FATAL_FAILURE(WaitIdle());
  const std::string id = created->cluster.id;
  ASSERT_FALSE(Secrets(id).has_value());

  auto yaml =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  EXPECT_EQ(yaml.status().code(), Code::kFailedPrecondition) << yaml.status().ToString();
  EXPECT_NE(yaml.status().message().find("billing-dev"), std::string::npos)
      << yaml.status().message();

  // Once the create has gone on, the same request succeeds.
  StartEngine();
  ASSERT_EQ(WaitForOperation(created->operation.id), "succeeded");
  yaml = credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  Parsed k;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_TRUE(SignedBy(k.client_cert, Secrets(id)->ca_cert));
}

TEST_F(CredentialServiceTest, DeletedClusterIsFailedPrecondition) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1).ok());

  auto deleted = service_->Delete(id, "alice", false);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(WaitForOperation(deleted->operation.id), "succeeded");
  ASSERT_FALSE(Secrets(id).has_value());

  auto yaml =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  EXPECT_EQ(yaml.status().code(), Code::kFailedPrecondition) << yaml.status().ToString();
}

TEST_F(CredentialServiceTest, EachClusterSignsWithItsOwnCa) {
  const std::string a = CreateCluster("cluster-a");
  const std::string b = CreateCluster("cluster-b");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto yaml =
      credentials_->Kubeconfig(a, "alice", "payments", provisioner::ClusterAccess::kEdit, 1);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  Parsed k;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(k.cluster_name, "cluster-a");
  EXPECT_EQ(k.ca_cert, Secrets(a)->ca_cert);
  EXPECT_TRUE(SignedBy(k.client_cert, Secrets(a)->ca_cert));
  EXPECT_FALSE(SignedBy(k.client_cert, Secrets(b)->ca_cert)) << "valid on another cluster";
}

TEST_F(CredentialServiceTest, ClientCertNeverOutlivesTheClusterCa) {
  const std::string id = CreateCluster("billing-dev");
  ASSERT_FALSE(id.empty());
  auto secrets = Secrets(id);
  ASSERT_TRUE(secrets.has_value());
  auto ca_not_after = pki::CertificateNotAfter(secrets->ca_cert);
  ASSERT_TRUE(ca_not_after.ok()) << ca_not_after.status().ToString();
  clock_.SetSeconds(*ca_not_after - kHourS);  // an hour before the CA expires
  auto yaml =
      credentials_->Kubeconfig(id, "alice", "payments", provisioner::ClusterAccess::kEdit, 24);
  ASSERT_TRUE(yaml.ok()) << yaml.status().ToString();
  Parsed k;
  ASSERT_NO_FATAL_FAILURE(ParseKubeconfig(*yaml, k));
  EXPECT_EQ(pki::CertificateNotAfter(k.client_cert).value(), *ca_not_after);
}

}  // namespace
}  // namespace kaas::lifecycle
