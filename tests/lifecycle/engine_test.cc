#include "kaas/lifecycle/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/pki/certificates.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor.h"
#include "kaas/provisioner/libvirt_fleet.h"
#include "kaas/provisioner/simulated_bootstrapper.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"
#include "kaas/store/repositories.h"
#include "kaas/templates/renderer.h"
#include "lifecycle_fakes.h"
#include "status_testing.h"

namespace kaas::lifecycle {
namespace {

using provisioner::DomainInfo;
using provisioner::DomainName;
using provisioner::DomainSpec;

constexpr const char* kTeamId = "tm-1";
constexpr auto kDeadline = std::chrono::seconds(10);

// ------------------------------------------------------------------ fakes

// A stateful fake of the hypervisor fleet: domains per hypervisor, like libvirt keeps them.
// Mutating calls (EnsureDomainRunning, ResizeDomain, DestroyDomain) are numbered from 1 so that a
// test can make the Nth one fail before it acts.
class FakeFleet : public provisioner::Fleet {
 public:
  class FakeHypervisor : public provisioner::Hypervisor {
   public:
    FakeHypervisor(std::string name, FakeFleet& fleet) : name_(std::move(name)), fleet_(fleet) {}
    const std::string& name() const override { return name_; }

    Result<DomainInfo> EnsureDomainRunning(const DomainSpec& spec) override {
      std::lock_guard lock(fleet_.mu_);
      KAAS_RETURN_IF_ERROR(fleet_.NextCallLocked());
      fleet_.ensures_[spec.name]++;
      auto& domains = fleet_.domains_[name_];
      auto it = domains.find(spec.name);
      if (it == domains.end()) {
        fleet_.defines_[spec.name]++;
        it = domains
                 .emplace(spec.name,
                          DomainInfo{spec.name, false, spec.vcpus, spec.memory_gib, spec.owner})
                 .first;
      }
      it->second.running = true;
      return it->second;
    }

    Result<DomainInfo> ResizeDomain(const DomainSpec& spec) override {
      std::lock_guard lock(fleet_.mu_);
      KAAS_RETURN_IF_ERROR(fleet_.NextCallLocked());
      auto& domains = fleet_.domains_[name_];
      auto it = domains.find(spec.name);
      if (it == domains.end()) return NotFound("domain " + spec.name);
      DomainInfo& d = it->second;
      if (d.vcpus == spec.vcpus && d.memory_gib == spec.memory_gib && d.running) return d;
      fleet_.resizes_[spec.name]++;
      d.vcpus = spec.vcpus;
      d.memory_gib = spec.memory_gib;
      d.running = true;
      return d;
    }

    Status DestroyDomain(const std::string& domain_name) override {
      std::lock_guard lock(fleet_.mu_);
      KAAS_RETURN_IF_ERROR(fleet_.NextCallLocked());
      fleet_.domains_[name_].erase(domain_name);
      return Status::Ok();
    }

    Result<DomainInfo> FindDomain(const std::string& domain_name) override {
      std::lock_guard lock(fleet_.mu_);
      auto& domains = fleet_.domains_[name_];
      auto it = domains.find(domain_name);
      if (it == domains.end()) return NotFound("domain " + domain_name);
      return it->second;
    }

    Result<std::vector<DomainInfo>> ListDomains() override {
      std::lock_guard lock(fleet_.mu_);
      std::vector<DomainInfo> out;
      for (const auto& [n, d] : fleet_.domains_[name_]) out.push_back(d);
      return out;
    }

   private:
    std::string name_;
    FakeFleet& fleet_;
  };

  Result<provisioner::Hypervisor*> Get(const std::string& name, const std::string& uri) override {
    std::lock_guard lock(mu_);
    if (uri != "fake://" + name) return Unavailable("cannot connect to " + uri);
    auto& hv = hypervisors_[name];
    if (!hv) hv = std::make_unique<FakeHypervisor>(name, *this);
    return hv.get();
  }

  // The `nth` mutating call from now on fails with `code` without acting.
  void FailCall(int nth, Code code) {
    std::lock_guard lock(mu_);
    fail_at_ = calls_ + nth;
    fail_code_ = code;
  }
  // Every mutating call from now on fails with `code`.
  void FailEveryCall(Code code) {
    std::lock_guard lock(mu_);
    fail_all_ = true;
    fail_code_ = code;
  }

  // A domain defined but not running, as after a crash between define and start.
  void StopDomain(const std::string& hypervisor, const std::string& domain_name) {
    std::lock_guard lock(mu_);
    domains_[hypervisor].at(domain_name).running = false;
  }

  // domain name -> hypervisor, over the whole fleet.
  std::map<std::string, std::string> Domains() const {
    std::lock_guard lock(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [hv, domains] : domains_) {
      for (const auto& [n, d] : domains) out[n] = hv;
    }
    return out;
  }
  bool Running(const std::string& domain_name) const {
    std::lock_guard lock(mu_);
    for (const auto& [hv, domains] : domains_) {
      if (auto it = domains.find(domain_name); it != domains.end()) return it->second.running;
    }
    return false;
  }
  std::map<std::string, int> Defines() const {
    std::lock_guard lock(mu_);
    return defines_;
  }
  std::map<std::string, int> Ensures() const {
    std::lock_guard lock(mu_);
    return ensures_;
  }
  // domain name -> how many resizes changed its size.
  std::map<std::string, int> Resizes() const {
    std::lock_guard lock(mu_);
    return resizes_;
  }
  // The domain as its hypervisor has it, wherever it is.
  std::optional<DomainInfo> Domain(const std::string& domain_name) const {
    std::lock_guard lock(mu_);
    for (const auto& [hv, domains] : domains_) {
      if (auto it = domains.find(domain_name); it != domains.end()) return it->second;
    }
    return std::nullopt;
  }

 private:
  Status NextCallLocked() {
    ++calls_;
    if (fail_all_ || calls_ == fail_at_) {
      return Status(fail_code_, "injected failure of call " + std::to_string(calls_));
    }
    return Status::Ok();
  }

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FakeHypervisor>> hypervisors_;
  std::map<std::string, std::map<std::string, DomainInfo>> domains_;
  std::map<std::string, int> defines_;
  std::map<std::string, int> ensures_;
  std::map<std::string, int> resizes_;
  int calls_ = 0;
  int fail_at_ = 0;
  bool fail_all_ = false;
  Code fail_code_ = Code::kUnavailable;
};

// Records every bootstrap job instead of running Ansible. Like the real runners, a job whose
// cancel flag is set when it would finish is stopped and returns kCancelled (and is not
// recorded as done). `on_run`, when set, is called as the job starts (the step is running).
class FakeBootstrapper : public provisioner::Bootstrapper {
 public:
  Result<std::string> Run(const provisioner::BootstrapJob& job) override {
    std::function<void(const provisioner::BootstrapJob&)> hook;
    {
      std::lock_guard lock(mu_);
      hook = on_run_;
    }
    if (hook) hook(job);
    if (job.on_output) job.on_output("PLAY [" + job.playbook + "]");  // as a real run prints
    std::lock_guard lock(mu_);
    if (failing_.count(job.playbook)) {
      return Status(Code::kFailedPrecondition, job.playbook + " failed: host unreachable");
    }
    if (job.cancel && job.cancel->load()) {
      cancelled_.push_back(job);
      return Status(Code::kCancelled, job.playbook + " was stopped by a cancel");
    }
    jobs_.push_back(job);
    return "fake " + job.playbook + " on " + std::to_string(job.targets.size()) + " node(s)";
  }
  void OnRun(std::function<void(const provisioner::BootstrapJob&)> hook) {
    std::lock_guard lock(mu_);
    on_run_ = std::move(hook);
  }
  // Every later run of `playbook` fails (as an unreachable host would).
  void FailPlaybook(const std::string& playbook) {
    std::lock_guard lock(mu_);
    failing_.insert(playbook);
  }
  std::vector<provisioner::BootstrapJob> Jobs() const {
    std::lock_guard lock(mu_);
    return jobs_;
  }
  std::vector<provisioner::BootstrapJob> Cancelled() const {
    std::lock_guard lock(mu_);
    return cancelled_;
  }
  // (playbook, targets) of every completed job, in order.
  std::vector<std::pair<std::string, std::vector<std::string>>> Runs(
      const std::string& playbook = "") const {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    for (const auto& j : jobs_) {
      if (playbook.empty() || j.playbook == playbook) out.push_back({j.playbook, j.targets});
    }
    return out;
  }
  // (playbook, node name) -> how many completed jobs ran that playbook on that node.
  std::map<std::pair<std::string, std::string>, int> Targeted() const {
    std::lock_guard lock(mu_);
    std::map<std::pair<std::string, std::string>, int> out;
    for (const auto& j : jobs_) {
      for (const auto& t : j.targets) out[{j.playbook, t}]++;
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<provisioner::BootstrapJob> jobs_;
  std::vector<provisioner::BootstrapJob> cancelled_;
  std::function<void(const provisioner::BootstrapJob&)> on_run_;
  std::set<std::string> failing_;
};

// ------------------------------------------------------------------ environment

// One kaasd "installation": a SQLite database, the fake fleet and bootstrapper (which outlive
// engine restarts, as hypervisors outlive a kaasd crash), the real steps, quota and service.
class Env {
 public:
  // With `faulty_fleet`, the steps reach the fake fleet through FaultyFleet, which consults
  // faults() before every hypervisor call.
  explicit Env(const std::string& tag, bool faulty_fleet = false) {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-engine-" + std::to_string(getpid()) + "-" + tag);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open("sqlite://" + (dir_ / "kaas.db").string(), 4);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return;
    db_ = std::move(db).value();
    EXPECT_TRUE(db_->Migrate().ok());
    int64_t now = Clock().NowMs();
    EXPECT_TRUE(db_->Write([&](store::Tx& tx) {
                     store::teams::Insert(tx, {kTeamId, "payments", now});
                     for (const char* hv : {"sim-1", "sim-2", "sim-3"}) {
                       store::hypervisors::Upsert(
                           tx, {hv, std::string("fake://") + hv, 128, 512, "active", now});
                     }
                     return Status::Ok();
                   })
                    .ok());
    auto box = pki::SecretBox::LoadOrCreate((dir_ / "secret.key").string());
    EXPECT_TRUE(box.ok()) << box.status().ToString();
    if (!box.ok()) return;
    box_.emplace(std::move(box).value());
    provisioner::Fleet& fleet = faulty_fleet ? static_cast<provisioner::Fleet&>(faulty_) : fleet_;
    StepDeps deps{*db_, fleet, bootstrapper_, dir_ / "work", Clock(), *box_};
    deps.look_again = std::chrono::milliseconds(5);
    steps_ = std::make_unique<ClusterSteps>(deps);
  }

  ~Env() {
    service_.reset();
    engine_.reset();
    steps_.reset();
    box_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  static const kaas::Clock& Clock() { return SystemClock::Instance(); }

  static EngineOptions FastOptions() {
    EngineOptions o;
    o.threads = 2;
    o.backoff_base_ms = 1;
    o.backoff_max_ms = 5;
    return o;
  }

  // Stops the current engine (if any) and starts a new one over the same database, which
  // resumes every active operation — what a restarted kaasd does.
  // `runner`: the steps the engine runs (default: the real ClusterSteps).
  void StartEngine(EngineOptions options = FastOptions(), StepRunner* runner = nullptr) {
    service_.reset();
    if (engine_) engine_->Shutdown();
    engine_.reset();
    engine_ =
        std::make_unique<Engine>(*db_, runner ? *runner : *steps_, Clock(), std::move(options));
    service_ = std::make_unique<ClusterService>(*db_, quota_, *engine_, Clock());
    Status st = engine_->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
  }

  // Abandons at step `k` of every operation, like a kill -9 just before that step.
  static EngineOptions CrashBefore(int64_t k) {
    EngineOptions o = FastOptions();
    o.hooks = std::make_shared<test_support::BeforeStepHooks>(
        [k](const std::string&, int64_t index) { return index != k; });
    return o;
  }

  static CreateClusterRequest DevRequest(const std::string& name = "billing-dev") {
    CreateClusterRequest r;
    r.name = name;
    r.team = "payments";
    r.purpose = "dev";
    r.worker_count = 3;
    r.worker_kind = "vm";
    r.worker_flavor = "w.medium";
    return r;
  }

  Result<Admitted> Create(const CreateClusterRequest& r, bool dry_run = false) {
    return service_->Create(r, kTeamId, "alice", dry_run);
  }
  Result<Admitted> Delete(const std::string& cluster_id, bool dry_run = false) {
    return service_->Delete(cluster_id, "alice", dry_run);
  }

  std::optional<store::Operation> FindOperation(const std::string& id) {
    std::optional<store::Operation> op;
    EXPECT_TRUE(db_->Read([&](store::Tx& tx) {
                     op = store::operations::Find(tx, id);
                     return Status::Ok();
                   })
                    .ok());
    return op;
  }

  // Polls the database until the operation is finished (or the deadline passes).
  store::Operation WaitForOperation(const std::string& id) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (true) {
      auto op = FindOperation(id);
      if (!op) {
        ADD_FAILURE() << "operation " << id << " does not exist";
        return {};
      }
      if (op->state == "succeeded" || op->state == "failed" || op->state == "cancelled") {
        return *op;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "operation " << id << " still " << op->state << " after deadline";
        return *op;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Waits until this process's engine has nothing scheduled or running.
  void WaitIdle() {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (engine_->InFlight() > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "engine still busy after deadline";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::optional<store::Cluster> FindCluster(const std::string& id) {
    std::optional<store::Cluster> c;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      c = store::clusters::Find(tx, id);
      return Status::Ok();
    }));
    return c;
  }
  std::vector<store::Node> LiveNodes(const std::string& cluster_id) {
    std::vector<store::Node> nodes;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      nodes = store::nodes::ListLive(tx, cluster_id);
      return Status::Ok();
    }));
    return nodes;
  }
  quota::Usage Usage() {
    quota::Usage u;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      u = quota_.UsageOf(tx, kTeamId);
      return Status::Ok();
    }));
    return u;
  }
  size_t ClusterCount() {
    size_t n = 0;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      store::ClusterFilter f;
      f.all_teams = true;
      f.include_deleted = true;
      n = store::clusters::List(tx, f).size();
      return Status::Ok();
    }));
    return n;
  }
  size_t ActiveOperationCount() {
    size_t n = 0;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      n = store::operations::ListActiveIds(tx).size();
      return Status::Ok();
    }));
    return n;
  }
  std::optional<store::ClusterSecrets> Secrets(const std::string& cluster_id) {
    std::optional<store::ClusterSecrets> s;
    EXPECT_TRUE(db_->Read([&](store::Tx& tx) {
                     s = store::secrets::Get(tx, cluster_id);
                     return Status::Ok();
                   })
                    .ok());
    return s;
  }
  std::map<std::string, store::HypervisorUsage> HypervisorUsage() {
    std::map<std::string, store::HypervisorUsage> u;
    EXPECT_OK(db_->Read([&](store::Tx& tx) {
      u = store::hypervisors::Usage(tx);
      return Status::Ok();
    }));
    return u;
  }

  store::Database& db() { return *db_; }
  FakeFleet& fleet() { return fleet_; }
  FakeBootstrapper& bootstrapper() { return bootstrapper_; }
  FaultInjector& faults() { return faults_; }
  ClusterService& service() { return *service_; }
  Engine& engine() { return *engine_; }
  ClusterSteps& steps() { return *steps_; }
  const pki::SecretBox& box() { return *box_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  FakeFleet fleet_;
  FaultInjector faults_;
  FaultyFleet faulty_{fleet_, faults_};
  FakeBootstrapper bootstrapper_;
  std::optional<pki::SecretBox> box_;
  quota::QuotaService quota_{quota::Limits{/*clusters=*/20, /*vcpus=*/1000,
                                           /*memory_gib=*/4000, /*physical_hosts=*/0}};
  std::unique_ptr<ClusterSteps> steps_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ClusterService> service_;
};

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

std::set<std::string> Names(const std::vector<store::Node>& nodes) {
  std::set<std::string> out;
  for (const auto& n : nodes) out.insert(n.name);
  return out;
}

const std::set<std::string> kDevNodes = {"master-1", "master-2", "master-3",
                                         "worker-1", "worker-2", "worker-3"};

std::set<std::string> DomainsOf(const std::string& cluster_id) {
  std::set<std::string> out;
  for (const auto& n : kDevNodes) out.insert(DomainName(cluster_id, n));
  return out;
}

std::set<std::string> Keys(const std::map<std::string, std::string>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

// What a user checks after a successful create of the dev cluster: it is running, with exactly
// the planned nodes, all ready, masters apart, and exactly one running domain per VM node.
void ExpectHealthyDevCluster(Env& env, const std::string& cluster_id) {
  auto c = env.FindCluster(cluster_id);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "running");
  EXPECT_EQ(c->status_reason, "");
  auto nodes = env.LiveNodes(cluster_id);
  EXPECT_EQ(Names(nodes), kDevNodes);
  EXPECT_EQ(nodes.size(), kDevNodes.size()) << "no duplicate node rows";
  std::set<std::string> master_hosts;
  auto domains = env.fleet().Domains();
  for (const auto& n : nodes) {
    EXPECT_EQ(n.state, "ready") << n.name;
    EXPECT_FALSE(n.address.empty()) << n.name;
    ASSERT_FALSE(n.hypervisor.empty()) << n.name;
    if (n.role == "master") master_hosts.insert(n.hypervisor);
    std::string domain = DomainName(cluster_id, n.name);
    EXPECT_EQ(domains[domain], n.hypervisor) << "domain of " << n.name << " is where the node is";
    EXPECT_TRUE(env.fleet().Running(domain)) << domain;
  }
  EXPECT_EQ(master_hosts.size(), 3u) << "masters share a hypervisor";
  EXPECT_EQ(Keys(env.fleet().Domains()), DomainsOf(cluster_id));
  auto secrets = env.Secrets(cluster_id);
  ASSERT_TRUE(secrets.has_value()) << "a running cluster has its PKI";
  auto subject = pki::CertificateSubject(secrets->ca_cert);
  ASSERT_TRUE(subject.ok()) << subject.status().ToString();
  EXPECT_EQ(*subject, "CN=kubernetes-ca " + c->name);
}

// The issue_pki step's row for `cluster_name`: three CAs whose certificates name the cluster and
// whose private keys are sealed (never PEM in the database), open with the installation's
// SecretBox, and belong to their certificates (a CA signs a client certificate with its key only
// when the key matches and the certificate is a CA).
void ExpectSealedPki(Env& env, const std::string& cluster_id, const std::string& cluster_name) {
  auto secrets = env.Secrets(cluster_id);
  ASSERT_TRUE(secrets.has_value()) << "no cluster_secrets row for " << cluster_id;
  const store::ClusterSecrets& s = *secrets;
  EXPECT_EQ(s.cluster_id, cluster_id);
  EXPECT_GT(s.created_at, 0);
  const int64_t now_s = Env::Clock().NowMs() / 1000;
  struct Ca {
    std::string what, cert, sealed_key, common_name;
  };
  const std::vector<Ca> cas = {
      {"cluster CA", s.ca_cert, s.ca_key_sealed, "kubernetes-ca " + cluster_name},
      {"etcd CA", s.etcd_ca_cert, s.etcd_ca_key_sealed, "etcd-ca " + cluster_name},
      {"front-proxy CA", s.front_proxy_ca_cert, s.front_proxy_ca_key_sealed,
       "front-proxy-ca " + cluster_name},
  };
  std::set<std::string> certs;
  for (const auto& ca : cas) {
    SCOPED_TRACE(ca.what);
    certs.insert(ca.cert);
    auto subject = pki::CertificateSubject(ca.cert);
    ASSERT_TRUE(subject.ok()) << subject.status().ToString();
    EXPECT_EQ(*subject, "CN=" + ca.common_name);
    auto not_after = pki::CertificateNotAfter(ca.cert);
    ASSERT_TRUE(not_after.ok()) << not_after.status().ToString();
    EXPECT_NEAR(static_cast<double>(*not_after),
                static_cast<double>(now_s + pki::kCaValiditySeconds), 120.0);
    EXPECT_FALSE(ca.sealed_key.empty());
    EXPECT_EQ(ca.sealed_key.find("PRIVATE KEY"), std::string::npos) << "stored in plaintext";
    EXPECT_EQ(ca.sealed_key.find("-----BEGIN"), std::string::npos) << "stored as PEM";
    auto key = env.box().Open(ca.sealed_key);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << "PKCS#8 PEM once opened";
    auto signed_by = pki::IssueClientCert(ca.cert, *key, "probe", {"probe"}, 3600, now_s);
    ASSERT_TRUE(signed_by.ok()) << "the sealed key does not belong to the CA: "
                                << signed_by.status().ToString();
  }
  EXPECT_EQ(certs.size(), 3u) << "the three CAs are distinct";
  EXPECT_EQ(s.sa_public_key.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u) << s.sa_public_key;
  EXPECT_EQ(s.sa_private_key_sealed.find("PRIVATE KEY"), std::string::npos);
  auto sa_key = env.box().Open(s.sa_private_key_sealed);
  EXPECT_TRUE(sa_key.ok()) << sa_key.status().ToString();
  if (sa_key.ok()) EXPECT_EQ(sa_key->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
}

void ExpectSameSecrets(const store::ClusterSecrets& a, const store::ClusterSecrets& b) {
  EXPECT_EQ(a.cluster_id, b.cluster_id);
  EXPECT_EQ(a.ca_cert, b.ca_cert) << "the cluster CA was replaced";
  EXPECT_EQ(a.ca_key_sealed, b.ca_key_sealed);
  EXPECT_EQ(a.etcd_ca_cert, b.etcd_ca_cert);
  EXPECT_EQ(a.etcd_ca_key_sealed, b.etcd_ca_key_sealed);
  EXPECT_EQ(a.front_proxy_ca_cert, b.front_proxy_ca_cert);
  EXPECT_EQ(a.front_proxy_ca_key_sealed, b.front_proxy_ca_key_sealed);
  EXPECT_EQ(a.sa_public_key, b.sa_public_key);
  EXPECT_EQ(a.sa_private_key_sealed, b.sa_private_key_sealed);
  EXPECT_EQ(a.created_at, b.created_at);
}

// ------------------------------------------------------------------ tests

TEST(ClusterEngineTest, CreatesADevClusterWithThreeWorkersAndDeletesIt) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  EXPECT_EQ(created->operation.type, "create");
  EXPECT_EQ(created->operation.state, "pending");

  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.error, "");
  EXPECT_EQ(Progress(op), 100);
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "succeeded") << s.name;
    EXPECT_EQ(s.attempts, 1) << s.name;
    EXPECT_FALSE(s.message.empty()) << s.name;
    EXPECT_GT(s.finished_at, 0) << s.name;
  }
  ExpectHealthyDevCluster(env, cluster_id);
  ExpectSealedPki(env, cluster_id, "billing-dev");
  EXPECT_EQ(env.fleet().Domains().size(), 6u);

  // Masters are bootstrapped one at a time (each further one joins etcd as a learner and is
  // promoted before the next), then the workers together.
  std::vector<std::pair<std::string, std::vector<std::string>>> jobs;
  for (const auto& j : env.bootstrapper().Jobs()) jobs.push_back({j.playbook, j.targets});
  EXPECT_EQ(jobs, (std::vector<std::pair<std::string, std::vector<std::string>>>{
                      {"bootstrap-master.yml", {"master-1"}},
                      {"join-master.yml", {"master-2"}},
                      {"promote-master.yml", {"master-2"}},
                      {"join-master.yml", {"master-3"}},
                      {"promote-master.yml", {"master-3"}},
                      {"join-worker.yml", {"worker-1", "worker-2", "worker-3"}},
                  }));

  quota::Usage used = env.Usage();
  EXPECT_EQ(used.clusters, 1);
  EXPECT_EQ(used.vcpus, 3 * 4 + 3 * 4);
  EXPECT_EQ(used.memory_gib, 3 * 4 + 3 * 8);

  auto deleted = env.Delete(cluster_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->cluster.status, "deleting");
  store::Operation del = env.WaitForOperation(deleted->operation.id);
  EXPECT_EQ(del.state, "succeeded") << del.error;
  EXPECT_EQ(env.FindCluster(cluster_id)->status, "deleted");
  EXPECT_TRUE(env.LiveNodes(cluster_id).empty());
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_FALSE(env.Secrets(cluster_id).has_value()) << "the CAs and keys outlive the cluster";
  used = env.Usage();
  EXPECT_EQ(used.clusters, 0);
  EXPECT_EQ(used.vcpus, 0);
  EXPECT_EQ(used.memory_gib, 0);
  EXPECT_EQ(used.physical_hosts, 0);
  EXPECT_TRUE(env.HypervisorUsage().empty()) << "hypervisor capacity is given back";
}

TEST(ClusterEngineTest, ResumesACreateAfterACrashAtEveryStepBoundary) {
  size_t steps = 0;
  {
    Env probe(TestName() + "-probe");
    probe.StartEngine();
    auto dry = probe.Create(Env::DevRequest(), /*dry_run=*/true);
    ASSERT_TRUE(dry.ok()) << dry.status().ToString();
    steps = dry->operation.steps.size();
  }
  ASSERT_EQ(steps, 9u);
  for (size_t k = 0; k < steps; ++k) {
    SCOPED_TRACE("crash before step " + std::to_string(k));
    Env env(TestName() + "-" + std::to_string(k));
    env.StartEngine(Env::CrashBefore(static_cast<int64_t>(k)));
    auto created = env.Create(Env::DevRequest());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const std::string op_id = created->operation.id;
    const std::string cluster_id = created->cluster.id;
    env.WaitIdle();

    // The dead process left the operation mid-way: active, steps before k done, k not begun.
    auto abandoned = env.FindOperation(op_id);
    ASSERT_TRUE(abandoned.has_value());
    EXPECT_EQ(abandoned->state, "running");
    for (size_t i = 0; i < steps; ++i) {
      EXPECT_EQ(abandoned->steps[i].state, i < k ? "succeeded" : "pending") << "step " << i;
    }
    EXPECT_EQ(Progress(*abandoned), static_cast<int>(k * 100 / steps));
    EXPECT_EQ(env.FindCluster(cluster_id)->status, "provisioning");
    // issue_pki is step 1: its row exists exactly when the crash came after it.
    std::optional<store::ClusterSecrets> issued = env.Secrets(cluster_id);
    EXPECT_EQ(issued.has_value(), k >= 2);

    env.StartEngine();  // the restarted kaasd, no crash hook
    store::Operation op = env.WaitForOperation(op_id);
    EXPECT_EQ(op.state, "succeeded") << op.error;
    for (const auto& s : op.steps) {
      EXPECT_EQ(s.state, "succeeded") << s.name;
      EXPECT_EQ(s.attempts, 1) << s.name << ": a step that never began does not count";
    }
    ExpectHealthyDevCluster(env, cluster_id);
    for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
    for (const auto& [domain, n] : env.fleet().Ensures()) EXPECT_EQ(n, 1) << domain;
    std::set<std::string> nodes;
    for (const auto& [run, n] : env.bootstrapper().Targeted()) {
      EXPECT_EQ(n, 1) << run.first << " ran on " << run.second << " more than once";
      nodes.insert(run.second);
    }
    EXPECT_EQ(nodes.size(), 6u);
    EXPECT_EQ(env.ActiveOperationCount(), 0u);
    ExpectSealedPki(env, cluster_id, "billing-dev");
    if (issued) {
      auto after = env.Secrets(cluster_id);
      ASSERT_TRUE(after.has_value());
      ExpectSameSecrets(*issued, *after);
    }
  }
}

TEST(ClusterEngineTest, ResumesAfterACrashInTheMiddleOfProvisioningMasters) {
  Env env(TestName());
  // Let "provision masters" (step 2) run, stop before step 3...
  env.StartEngine(Env::CrashBefore(3));
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  env.WaitIdle();
  ASSERT_EQ(env.fleet().Domains().size(), 3u);

  // ...then rewind the database to what a process killed inside step 2 leaves behind: the
  // domains were created on the hypervisors, but neither the nodes nor the step were recorded.
  // One domain was even defined but never started.
  auto op = env.FindOperation(created->operation.id);
  ASSERT_TRUE(op.has_value());
  store::Step step = op->steps[2];
  ASSERT_EQ(step.kind, "provision_nodes");
  step.state = "running";
  step.message = "";
  step.finished_at = 0;
  std::string stopped;
  ASSERT_TRUE(env.db()
                  .Write([&](store::Tx& tx) {
                    store::operations::UpdateStep(tx, step);
                    for (const auto& n : store::nodes::ListLive(tx, cluster_id)) {
                      if (n.role != "master") continue;
                      store::nodes::SetState(tx, n.id, "reserved", 1);
                      store::nodes::SetAddress(tx, n.id, "", 1);
                      if (stopped.empty()) {
                        stopped = DomainName(cluster_id, n.name);
                        env.fleet().StopDomain(n.hypervisor, stopped);
                      }
                    }
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_FALSE(env.fleet().Running(stopped));

  env.StartEngine();
  store::Operation done = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(done.state, "succeeded") << done.error;
  EXPECT_EQ(done.steps[2].attempts, 2) << "the interrupted step ran again";
  ExpectHealthyDevCluster(env, cluster_id);
  EXPECT_TRUE(env.fleet().Running(stopped)) << "the defined-but-stopped domain was started";
  for (const auto& [domain, n] : env.fleet().Defines()) {
    EXPECT_EQ(n, 1) << domain << " defined twice";
  }
  for (const auto& [domain, n] : env.fleet().Ensures()) {
    EXPECT_LE(n, 2) << domain << ": at most one extra call after the crash";
  }
}

TEST(ClusterEngineTest, ResumesADeleteAfterACrashAtEveryStepBoundary) {
  for (int64_t k = 0; k < 3; ++k) {
    SCOPED_TRACE("crash before delete step " + std::to_string(k));
    Env env(TestName() + "-" + std::to_string(k));
    env.StartEngine();
    auto created = env.Create(Env::DevRequest());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    const std::string cluster_id = created->cluster.id;
    ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");

    env.StartEngine(Env::CrashBefore(k));
    auto deleted = env.Delete(cluster_id);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    ASSERT_EQ(deleted->operation.steps.size(), 3u);
    ASSERT_EQ(deleted->operation.steps[2].kind, "release_cluster");
    env.WaitIdle();
    EXPECT_EQ(env.FindOperation(deleted->operation.id)->state, "running");
    EXPECT_EQ(env.FindCluster(cluster_id)->status, "deleting");
    EXPECT_TRUE(env.Secrets(cluster_id).has_value()) << "only release_cluster drops the PKI";

    env.StartEngine();
    store::Operation op = env.WaitForOperation(deleted->operation.id);
    EXPECT_EQ(op.state, "succeeded") << op.error;
    EXPECT_EQ(env.FindCluster(cluster_id)->status, "deleted");
    EXPECT_TRUE(env.LiveNodes(cluster_id).empty());
    EXPECT_TRUE(env.fleet().Domains().empty()) << "orphan domains left behind";
    EXPECT_FALSE(env.Secrets(cluster_id).has_value()) << "the CAs and keys outlive the cluster";
    quota::Usage used = env.Usage();
    EXPECT_EQ(used.clusters, 0);
    EXPECT_EQ(used.vcpus, 0);
    EXPECT_EQ(used.memory_gib, 0);
    EXPECT_TRUE(env.HypervisorUsage().empty());
  }
}

TEST(ClusterEngineTest, PhysicalWorkersTakeHostsAndGiveThemBackOnDelete) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(env.db()
                  .Write([](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, {5, 100, 400, 2}, 1);
                    for (int i = 1; i <= 3; ++i) {
                      std::string name = "host-" + std::to_string(i);
                      store::hosts::Upsert(tx, {name, "10.0.0." + std::to_string(i), 32, 128, "{}",
                                                "available", "", 1});
                    }
                    return Status::Ok();
                  })
                  .ok());
  CreateClusterRequest r = Env::DevRequest();
  r.worker_kind = "physical";
  r.worker_flavor = "";
  r.worker_count = 2;
  auto created = env.Create(r);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");

  std::set<std::string> hosts;
  for (const auto& n : env.LiveNodes(cluster_id)) {
    EXPECT_EQ(n.state, "ready") << n.name;
    if (n.role != "worker") continue;
    EXPECT_EQ(n.kind, "physical");
    EXPECT_TRUE(n.hypervisor.empty());
    EXPECT_EQ(n.vcpus, 32) << "a physical node has its host's size";
    hosts.insert(n.host);
    EXPECT_EQ(n.address.rfind("10.0.0.", 0), 0u) << n.address;
  }
  EXPECT_EQ(hosts.size(), 2u);
  EXPECT_EQ(env.fleet().Domains().size(), 3u) << "only the masters are VMs";
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.physical_hosts, 2);
  EXPECT_EQ(used.vcpus, 12) << "physical hosts count as hosts, not vCPU";

  // The team's host quota is used up: a further physical worker is refused.
  CreateClusterRequest more = r;
  more.name = "more";
  more.worker_count = 1;
  EXPECT_EQ(env.Create(more).status().code(), Code::kQuotaExceeded);

  auto deleted = env.Delete(cluster_id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  // Each host was wiped (wipe-host.yml) before it went back to the pool.
  std::set<std::string> wiped;
  for (const auto& [playbook, targets] : env.bootstrapper().Runs("wipe-host.yml")) {
    ASSERT_EQ(targets.size(), 1u);
    wiped.insert(targets[0]);
  }
  EXPECT_EQ(wiped, (std::set<std::string>{"worker-1", "worker-2"}));
  ASSERT_TRUE(env.db()
                  .Read([&](store::Tx& tx) {
                    for (const auto& h : store::hosts::List(tx)) {
                      EXPECT_EQ(h.state, "available") << h.name;
                      EXPECT_EQ(h.cluster_id, "") << h.name;
                    }
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(env.Usage().physical_hosts, 0);
  EXPECT_TRUE(env.fleet().Domains().empty());
}

TEST(ClusterEngineTest, AHostThatCannotBeWipedGoesToMaintenanceNotToTheNextTeam) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(
      env.db()
          .Write([](store::Tx& tx) {
            store::quotas::Put(tx, kTeamId, {5, 100, 400, 2}, 1);
            store::hosts::Upsert(tx, {"host-1", "10.0.0.1", 32, 128, "{}", "available", "", 1});
            return Status::Ok();
          })
          .ok());
  CreateClusterRequest r = Env::DevRequest();
  r.worker_kind = "physical";
  r.worker_flavor = "";
  r.worker_count = 1;
  auto created = env.Create(r);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");

  env.bootstrapper().FailPlaybook("wipe-host.yml");
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded")
      << "a dead host does not hold the cluster's deletion hostage";
  ASSERT_TRUE(env.db()
                  .Read([&](store::Tx& tx) {
                    auto h = store::hosts::Find(tx, "host-1");
                    EXPECT_TRUE(h.has_value());
                    if (!h) return Status::Ok();
                    EXPECT_EQ(h->state, "maintenance");
                    EXPECT_EQ(h->cluster_id, "");
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_TRUE(env.LiveNodes(created->cluster.id).empty());
  EXPECT_EQ(env.Usage().physical_hosts, 0);
}

// The playbooks that start etcd get the member's certificate, the etcd CA and the client
// certificate of kaas-etcdctl, all from this cluster's etcd CA, and what kubeadm expects to find
// shared on every master (the cluster's CAs with their keys, the service-account key pair, the
// API server's etcd client certificate); a joining worker gets the cluster CA certificate only
// (its kubeadm discovery); nothing else gets key material.
TEST(ClusterEngineTest, EtcdMembersGetTlsFromTheClustersEtcdCa) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");
  auto secrets = env.Secrets(created->cluster.id);
  ASSERT_TRUE(secrets.has_value());

  std::set<std::string> members;
  for (const auto& job : env.bootstrapper().Jobs()) {
    bool starts_etcd = job.playbook == "bootstrap-master.yml" || job.playbook == "join-master.yml";
    if (job.playbook == "join-worker.yml") {
      EXPECT_EQ(job.files, (std::map<std::string, std::string>{
                               {"kubernetes/ca.crt", secrets->ca_cert}}));
      continue;
    }
    if (!starts_etcd) {
      EXPECT_TRUE(job.files.empty()) << job.playbook << " carries key material";
      continue;
    }
    ASSERT_EQ(job.targets.size(), 1u);
    const std::string& node = job.targets[0];
    members.insert(node);
    EXPECT_EQ(job.files.size(), 13u) << job.playbook;
    EXPECT_EQ(job.files.at("kubernetes/ca.crt"), secrets->ca_cert);
    EXPECT_EQ(job.files.at("kubernetes/front-proxy-ca.crt"), secrets->front_proxy_ca_cert);
    EXPECT_EQ(job.files.at("kubernetes/sa.pub"), secrets->sa_public_key);
    for (const char* key : {"kubernetes/ca.key", "kubernetes/front-proxy-ca.key",
                            "kubernetes/sa.key", "kubernetes/apiserver-etcd-client.key"}) {
      EXPECT_NE(job.files.at(key).find("PRIVATE KEY"), std::string::npos) << key;
    }
    EXPECT_NE(job.files.at("kubernetes/ca.key"), job.files.at("kubernetes/front-proxy-ca.key"));
    EXPECT_EQ(pki::CertificateSubject(job.files.at("kubernetes/apiserver-etcd-client.crt")).value(),
              "CN=kube-apiserver-etcd-client");
    EXPECT_EQ(job.files.at("etcd/ca.crt"), secrets->etcd_ca_cert);
    EXPECT_EQ(pki::CertificateSubject(job.files.at("etcd/" + node + ".crt")).value(), "CN=" + node);
    EXPECT_EQ(pki::CertificateSubject(job.files.at("etcd/client.crt")).value(), "CN=kaas-etcdctl");
    EXPECT_NE(job.files.at("etcd/" + node + ".key").find("PRIVATE KEY"), std::string::npos);

    // openssl accepts the member certificate for TLS servers (and clients) under the etcd CA
    // only, for the names a peer dials.
    auto dir = env.dir() / ("verify-" + node);
    std::filesystem::create_directories(dir);
    for (const auto& [name, text] : std::map<std::string, std::string>{
             {"etcd-ca.pem", secrets->etcd_ca_cert},
             {"cluster-ca.pem", secrets->ca_cert},
             {"member.pem", job.files.at("etcd/" + node + ".crt")},
             {"apiserver.pem", job.files.at("kubernetes/apiserver-etcd-client.crt")}}) {
      std::ofstream(dir / name) << text;
    }
    // The API server's etcd client certificate is accepted by the etcd CA only, as a client.
    const std::string apiserver = "openssl verify -purpose sslclient -CAfile ";
    EXPECT_EQ(std::system((apiserver + (dir / "etcd-ca.pem").string() + " " +
                           (dir / "apiserver.pem").string() + " >/dev/null 2>&1")
                              .c_str()),
              0);
    EXPECT_NE(std::system((apiserver + (dir / "cluster-ca.pem").string() + " " +
                           (dir / "apiserver.pem").string() + " >/dev/null 2>&1")
                              .c_str()),
              0);
    auto verify = [&](const std::string& ca, const std::string& flags) {
      std::string cmd = "openssl verify " + flags + " -CAfile " + (dir / ca).string() + " " +
                        (dir / "member.pem").string() + " >/dev/null 2>&1";
      return std::system(cmd.c_str());
    };
    EXPECT_EQ(verify("etcd-ca.pem", "-purpose sslserver -verify_ip 127.0.0.1"), 0) << node;
    EXPECT_EQ(verify("etcd-ca.pem", "-purpose sslclient -verify_hostname " + node), 0) << node;
    EXPECT_NE(verify("cluster-ca.pem", "-purpose sslserver"), 0) << node;
  }
  EXPECT_EQ(members, (std::set<std::string>{"master-1", "master-2", "master-3"}));
}

// What a playbook prints reaches the cluster's event stream as `log` events of its step.
TEST(ClusterEngineTest, EveryLineOfABootstrapRunIsALogEventOfItsStep) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  ASSERT_EQ(op.state, "succeeded");
  std::vector<store::Event> events;
  ASSERT_TRUE(env.db()
                  .Read([&](store::Tx& tx) {
                    events = store::events::ListForCluster(tx, created->cluster.id, "", 1000);
                    return Status::Ok();
                  })
                  .ok());
  std::vector<std::string> lines;
  for (const auto& e : events) {
    if (e.kind != "log") continue;
    auto d = nlohmann::json::parse(e.data);
    EXPECT_EQ(d["operation"], op.id);
    const store::Step& step = op.steps.at(d["index"].get<size_t>());
    EXPECT_EQ(d["step"], step.name);
    lines.push_back(step.name + ": " + d["line"].get<std::string>());
  }
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "bootstrap master-1: PLAY [bootstrap-master.yml]",
                       "join master-2: PLAY [join-master.yml]",
                       "join master-2: PLAY [promote-master.yml]",
                       "join master-3: PLAY [join-master.yml]",
                       "join master-3: PLAY [promote-master.yml]",
                       "join workers: PLAY [join-worker.yml]",
                   }));
}

TEST(ClusterEngineTest, NotEnoughPhysicalHostsIsInsufficientCapacity) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(
      env.db()
          .Write([](store::Tx& tx) {
            store::quotas::Put(tx, kTeamId, {5, 100, 400, 5}, 1);
            store::hosts::Upsert(tx, {"host-1", "10.0.0.1", 32, 128, "{}", "available", "", 1});
            return Status::Ok();
          })
          .ok());
  CreateClusterRequest r = Env::DevRequest();
  r.worker_kind = "physical";
  r.worker_count = 2;
  auto created = env.Create(r);
  EXPECT_EQ(created.status().code(), Code::kInsufficientCapacity);
  ASSERT_EQ(created.status().shortfalls().size(), 1u);
  EXPECT_EQ(created.status().shortfalls()[0].resource, "physical_hosts");
  EXPECT_EQ(env.ClusterCount(), 0u);
}

TEST(ClusterEngineTest, MoreThanHundredWorkersPutTheMastersOnPhysicalHosts) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(env.db()
                  .Write([](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, {5, 1000, 4000, 3}, 1);
                    for (int i = 1; i <= 3; ++i) {
                      std::string name = "host-" + std::to_string(i);
                      store::hosts::Upsert(tx, {name, "10.0.0." + std::to_string(i), 32, 128, "{}",
                                                "available", "", 1});
                    }
                    return Status::Ok();
                  })
                  .ok());
  CreateClusterRequest r = Env::DevRequest();
  r.worker_count = 101;
  r.worker_flavor = "w.small";
  auto created = env.Create(r);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->cluster.master_flavor, "m.large");
  EXPECT_EQ(created->cluster.master_kind, "physical");
  store::Operation op = env.WaitForOperation(created->operation.id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  auto nodes = env.LiveNodes(created->cluster.id);
  EXPECT_EQ(nodes.size(), 104u);
  std::set<std::string> master_hosts;
  for (const auto& n : nodes) {
    EXPECT_EQ(n.state, "ready") << n.name;
    if (n.role == "master") {
      EXPECT_EQ(n.kind, "physical") << n.name;
      master_hosts.insert(n.host);
    }
  }
  EXPECT_EQ(master_hosts.size(), 3u);
  EXPECT_EQ(env.fleet().Domains().size(), 101u) << "only the workers are VMs";
  EXPECT_EQ(env.Usage().physical_hosts, 3);
}

TEST(ClusterEngineTest, ConcurrentCreatesCannotOvershootTheQuota) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(env.db()
                  .Write([](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, {3, 1000, 4000, 0}, 1);
                    return Status::Ok();
                  })
                  .ok());
  std::mutex mu;
  std::vector<Code> codes;
  std::vector<std::string> ops;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto created = env.Create(Env::DevRequest("c" + std::to_string(i)));
      std::lock_guard lock(mu);
      codes.push_back(created.status().code());
      if (created.ok()) ops.push_back(created->operation.id);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), Code::kOk), 3);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), Code::kQuotaExceeded), 5);
  for (const auto& id : ops) EXPECT_EQ(env.WaitForOperation(id).state, "succeeded");
  EXPECT_EQ(env.Usage().clusters, 3);
  EXPECT_EQ(env.fleet().Domains().size(), 18u);
}

TEST(ClusterEngineTest, TransientHypervisorFailureIsRetried) {
  Env env(TestName());
  env.StartEngine();
  env.fleet().FailCall(1, Code::kUnavailable);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  ASSERT_EQ(op.steps[2].name, "provision masters");
  EXPECT_EQ(op.steps[2].attempts, 2);
  for (const auto& s : op.steps) {
    if (s.index != 2) EXPECT_EQ(s.attempts, 1) << s.name;
  }
  ExpectHealthyDevCluster(env, created->cluster.id);
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
}

TEST(ClusterEngineTest, RetryableFailureGivesUpAfterMaxAttempts) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.max_attempts = 3;
  env.StartEngine(o);
  env.fleet().FailEveryCall(Code::kUnavailable);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  ASSERT_EQ(op.steps[2].name, "provision masters");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 3);
  EXPECT_NE(op.steps[2].message.find("injected failure"), std::string::npos) << op.steps[2].message;
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
}

TEST(ClusterEngineTest, PermanentFailureFailsTheOperationAndNamesTheStep) {
  Env env(TestName());
  env.StartEngine();
  env.fleet().FailCall(1, Code::kInternal);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_GT(op.finished_at, 0);
  EXPECT_NE(op.error.find("provision masters"), std::string::npos) << op.error;
  EXPECT_EQ(op.steps[0].state, "succeeded");
  EXPECT_EQ(op.steps[1].state, "succeeded");
  ASSERT_EQ(op.steps[2].name, "provision masters");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 1) << "a permanent error is not retried";
  for (size_t i = 3; i < op.steps.size(); ++i) EXPECT_EQ(op.steps[i].state, "pending");

  auto c = env.FindCluster(created->cluster.id);
  EXPECT_EQ(c->status, "error");
  EXPECT_NE(c->status_reason.find("provision masters"), std::string::npos) << c->status_reason;
  EXPECT_NE(c->status_reason.find("injected failure"), std::string::npos) << c->status_reason;
  EXPECT_EQ(env.ActiveOperationCount(), 0u);

  // A failed cluster can be deleted, and the deletion leaves nothing behind.
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_EQ(env.Usage().vcpus, 0);
  EXPECT_FALSE(env.Secrets(created->cluster.id).has_value());
}

TEST(ClusterEngineTest, QuotaRefusalPersistsNothing) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(env.db()
                  .Write([](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, {5, 16, 1000, 0}, 1);
                    return Status::Ok();
                  })
                  .ok());
  auto created = env.Create(Env::DevRequest());
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kQuotaExceeded);
  ASSERT_EQ(created.status().shortfalls().size(), 1u);
  const ResourceShortfall& s = created.status().shortfalls()[0];
  EXPECT_EQ(s.resource, "vcpus");
  EXPECT_EQ(s.requested, 24);
  EXPECT_EQ(s.used, 0);
  EXPECT_EQ(s.limit, 16);
  EXPECT_EQ(env.ClusterCount(), 0u);
  EXPECT_EQ(env.ActiveOperationCount(), 0u);
  EXPECT_TRUE(env.HypervisorUsage().empty());
  EXPECT_TRUE(env.fleet().Domains().empty());
}

TEST(ClusterEngineTest, SecondClusterCountsTheFirstOnesUsageAgainstQuota) {
  Env env(TestName());
  env.StartEngine();
  ASSERT_TRUE(env.db()
                  .Write([](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, {5, 40, 1000, 0}, 1);
                    return Status::Ok();
                  })
                  .ok());
  auto first = env.Create(Env::DevRequest("first"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = env.Create(Env::DevRequest("second"));
  ASSERT_EQ(second.status().code(), Code::kQuotaExceeded);
  ASSERT_EQ(second.status().shortfalls().size(), 1u);
  EXPECT_EQ(second.status().shortfalls()[0].used, 24);
  EXPECT_EQ(env.WaitForOperation(first->operation.id).state, "succeeded");
}

TEST(ClusterEngineTest, InsufficientCapacityPersistsNothing) {
  Env env(TestName());
  env.StartEngine();
  CreateClusterRequest r = Env::DevRequest();
  r.worker_count = 50;
  r.worker_flavor = "w.large";  // 50 × 8 vCPU + masters > 3 × 128 vCPU
  auto created = env.Create(r);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kInsufficientCapacity);
  EXPECT_EQ(env.ClusterCount(), 0u);
  EXPECT_TRUE(env.HypervisorUsage().empty());
}

TEST(ClusterEngineTest, DuplicateNameInTheTeamIsConflict) {
  Env env(TestName());
  env.StartEngine();
  auto first = env.Create(Env::DevRequest());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = env.Create(Env::DevRequest());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kConflict);
  EXPECT_EQ(env.ClusterCount(), 1u);
  ASSERT_EQ(env.WaitForOperation(first->operation.id).state, "succeeded");

  // Once the first is deleted, the name is free again.
  auto deleted = env.Delete(first->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  auto reused = env.Create(Env::DevRequest());
  ASSERT_TRUE(reused.ok()) << reused.status().ToString();
  EXPECT_EQ(env.WaitForOperation(reused->operation.id).state, "succeeded");
}

TEST(ClusterEngineTest, DryRunReturnsThePlanAndPersistsNothing) {
  Env env(TestName());
  env.StartEngine();
  auto dry = env.Create(Env::DevRequest(), /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(dry->operation.steps.size(), 9u);
  EXPECT_EQ(Names(dry->nodes), kDevNodes);
  std::set<std::string> master_hosts;
  for (const auto& n : dry->nodes) {
    EXPECT_FALSE(n.hypervisor.empty()) << n.name << " has a placement in the plan";
    if (n.role == "master") master_hosts.insert(n.hypervisor);
  }
  EXPECT_EQ(master_hosts.size(), 3u);
  EXPECT_EQ(env.ClusterCount(), 0u);
  EXPECT_EQ(env.ActiveOperationCount(), 0u);
  EXPECT_FALSE(env.FindOperation(dry->operation.id).has_value());
  EXPECT_TRUE(env.HypervisorUsage().empty());
  EXPECT_EQ(env.Usage().clusters, 0);
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_TRUE(env.bootstrapper().Jobs().empty());
  EXPECT_FALSE(env.Secrets(dry->cluster.id).has_value()) << "a dry run issues no PKI";
}

TEST(ClusterEngineTest, DeleteWhileAnOperationIsActiveIsRefused) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(3));  // the create stays active
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  env.WaitIdle();
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), Code::kOperationInProgress);
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "provisioning");
  EXPECT_EQ(env.ActiveOperationCount(), 1u);

  // Once the create has finished, the delete is admitted.
  env.StartEngine();
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");
  auto later = env.Delete(created->cluster.id);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(env.WaitForOperation(later->operation.id).state, "succeeded");
}

TEST(ClusterEngineTest, DeleteOfUnknownOrDeletedClusterIsRefused) {
  Env env(TestName());
  env.StartEngine();
  EXPECT_EQ(env.Delete("cl-nope").status().code(), Code::kNotFound);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_TRUE(deleted.ok());
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_EQ(env.Delete(created->cluster.id).status().code(), Code::kConflict);
}

TEST(ClusterEngineTest, InvalidRequestIsRejectedBeforeAnythingIsPersisted) {
  Env env(TestName());
  env.StartEngine();
  CreateClusterRequest r = Env::DevRequest();
  r.master_count = 2;
  auto created = env.Create(r);
  EXPECT_EQ(created.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(created.status().field(), "masters.count");
  EXPECT_EQ(env.ClusterCount(), 0u);
}

// The real path of the embedded default: libvirt's test driver behind LibvirtFleet and the
// simulated bootstrapper (which runs the real ansible-playbook --syntax-check), with a crash in
// the middle. The restarted side gets a NEW fleet, so it only knows what the hypervisor files
// kept — as after a kill -9 of kaasd.
TEST(ClusterEngineTest, SimulatedDatacenterCreateSurvivesACrash) {
  auto dir = std::filesystem::temp_directory_path() /
             ("kaas-engine-" + std::to_string(getpid()) + "-" + TestName());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto opened = store::Database::Open("sqlite://" + (dir / "kaas.db").string(), 4);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<store::Database> db = std::move(opened).value();
  ASSERT_TRUE(db->Migrate().ok());
  const Clock& clock = SystemClock::Instance();
  std::vector<std::string> uris;
  ASSERT_TRUE(db->Write([&](store::Tx& tx) {
                  store::teams::Insert(tx, {kTeamId, "payments", 1});
                  for (const char* hv : {"sim-1", "sim-2", "sim-3"}) {
                    std::string file = (dir / (std::string(hv) + ".xml")).string();
                    KAAS_RETURN_IF_ERROR(
                        provisioner::LibvirtFleet::CreateSimulatedHypervisorFile(file, 128, 512));
                    uris.push_back("test://" + file);
                    store::hypervisors::Upsert(tx, {hv, uris.back(), 128, 512, "active", 1});
                  }
                  return Status::Ok();
                }).ok());

  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  std::shared_future<provisioner::SyntaxCheck> syntax =
      std::async(std::launch::async, [&] {
        return provisioner::CheckPlaybooks(renderer.root() / "ansible");
      }).share();
  provisioner::SimulatedBootstrapper bootstrapper(renderer, syntax, 0);
  quota::QuotaService quota({10, 1000, 4000, 0});
  const std::string key_file = (dir / "secret.key").string();
  std::string op_id, cluster_id, ca_cert;
  {
    auto box = pki::SecretBox::LoadOrCreate(key_file);
    ASSERT_TRUE(box.ok()) << box.status().ToString();
    provisioner::LibvirtFleet fleet(renderer, {});
    ClusterSteps steps({*db, fleet, bootstrapper, dir / "work", clock, *box});
    // Dies after bootstrapping master-1 (step 3), before joining master-2.
    Engine engine(*db, steps, clock, Env::CrashBefore(4));
    ClusterService service(*db, quota, engine, clock);
    ASSERT_TRUE(engine.Start().ok());
    auto created = service.Create(Env::DevRequest(), kTeamId, "alice", false);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    op_id = created->operation.id;
    cluster_id = created->cluster.id;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (engine.InFlight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(engine.InFlight(), 0u);
    EXPECT_OK(db->Read([&](store::Tx& tx) {
      if (auto s = store::secrets::Get(tx, cluster_id)) ca_cert = s->ca_cert;
      return Status::Ok();
    }));
    ASSERT_FALSE(ca_cert.empty()) << "issue_pki ran before the crash";
  }

  // The restarted kaasd loads the same master key from the data dir.
  auto box = pki::SecretBox::LoadOrCreate(key_file);
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  provisioner::LibvirtFleet fleet(renderer, {});
  ClusterSteps steps({*db, fleet, bootstrapper, dir / "work", clock, *box});
  Engine engine(*db, steps, clock, Env::FastOptions());
  ASSERT_TRUE(engine.Start().ok());
  std::optional<store::Operation> op;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    EXPECT_OK(db->Read([&](store::Tx& tx) {
      op = store::operations::Find(tx, op_id);
      return Status::Ok();
    }));
    if (op && (op->state == "succeeded" || op->state == "failed")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(op.has_value());
  ASSERT_EQ(op->state, "succeeded") << op->error;
  ASSERT_EQ(op->steps[3].kind, "bootstrap_first_master");
  EXPECT_NE(op->steps[3].message.find("nothing was executed on a real machine"), std::string::npos)
      << op->steps[3].message;
  std::optional<store::ClusterSecrets> secrets;
  EXPECT_OK(db->Read([&](store::Tx& tx) {
    secrets = store::secrets::Get(tx, cluster_id);
    return Status::Ok();
  }));
  ASSERT_TRUE(secrets.has_value());
  EXPECT_EQ(secrets->ca_cert, ca_cert) << "the resumed create issued a second CA";
  auto ca_key = box->Open(secrets->ca_key_sealed);
  ASSERT_TRUE(ca_key.ok()) << "the restarted process cannot open the CA key: "
                           << ca_key.status().ToString();
  EXPECT_TRUE(pki::IssueClientCert(secrets->ca_cert, *ca_key, "alice", {"payments"}, 3600,
                                   clock.NowMs() / 1000)
                  .ok());

  std::set<std::string> domains;
  std::vector<store::Node> nodes;
  EXPECT_OK(db->Read([&](store::Tx& tx) {
    nodes = store::nodes::ListLive(tx, cluster_id);
    return Status::Ok();
  }));
  for (const char* name : {"sim-1", "sim-2", "sim-3"}) {
    auto hv = fleet.Get(name, "test://" + (dir / (std::string(name) + ".xml")).string());
    ASSERT_TRUE(hv.ok()) << hv.status().ToString();
    auto list = (*hv)->ListDomains();
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    for (const auto& d : *list) {
      EXPECT_TRUE(d.running) << d.name;
      EXPECT_EQ(d.owner.cluster_id, cluster_id) << d.name;
      EXPECT_TRUE(domains.insert(d.name).second) << d.name << " exists twice";
      auto node = std::find_if(nodes.begin(), nodes.end(),
                               [&](const store::Node& n) { return n.name == d.owner.node_name; });
      ASSERT_NE(node, nodes.end()) << d.name << " is an orphan";
      EXPECT_EQ(node->hypervisor, name) << d.name;
    }
  }
  EXPECT_EQ(domains, DomainsOf(cluster_id));
  EXPECT_TRUE(
      std::filesystem::exists(dir / "work" / op_id / "3-bootstrap_first_master" / "inventory.yml"));
  engine.Shutdown();
  std::filesystem::remove_all(dir);
}

TEST(ClusterEngineTest, IssuePkiStoresSealedCasBeforeAnyNodeIsProvisioned) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(2));  // reserve and issue_pki only
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  env.WaitIdle();
  auto op = env.FindOperation(created->operation.id);
  ASSERT_TRUE(op.has_value());
  ASSERT_EQ(op->steps.size(), 9u);
  EXPECT_EQ(op->steps[1].kind, "issue_pki");
  EXPECT_EQ(op->steps[1].name, "issue PKI");
  EXPECT_EQ(op->steps[1].state, "succeeded");
  EXPECT_EQ(op->steps[1].attempts, 1);
  EXPECT_NE(op->steps[1].message.find("issued"), std::string::npos) << op->steps[1].message;
  EXPECT_EQ(op->steps[1].message.find("PRIVATE KEY"), std::string::npos) << op->steps[1].message;
  EXPECT_TRUE(env.fleet().Domains().empty()) << "the PKI comes before any machine";

  ExpectSealedPki(env, cluster_id, "billing-dev");
  auto secrets = env.Secrets(cluster_id);
  ASSERT_TRUE(secrets.has_value());
  // Sealed under this installation's master key: another key cannot open them.
  auto other = pki::SecretBox::LoadOrCreate((env.dir() / "other.key").string());
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  for (const std::string* sealed :
       {&secrets->ca_key_sealed, &secrets->etcd_ca_key_sealed, &secrets->front_proxy_ca_key_sealed,
        &secrets->sa_private_key_sealed}) {
    EXPECT_EQ(other->Open(*sealed).status().code(), Code::kInternal);
  }
}

TEST(ClusterEngineTest, IssuePkiRunTwiceKeepsTheSameCa) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(1));  // reserve only
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  env.WaitIdle();
  auto op = env.FindOperation(created->operation.id);
  ASSERT_TRUE(op.has_value());
  ASSERT_EQ(op->steps[1].kind, "issue_pki");
  ASSERT_FALSE(env.Secrets(cluster_id).has_value());

  StepResult first = env.steps().Run(*op, op->steps[1], StepControl{});
  ASSERT_TRUE(first.done()) << first.error().ToString();
  ExpectSealedPki(env, cluster_id, "billing-dev");
  auto issued = env.Secrets(cluster_id);
  ASSERT_TRUE(issued.has_value());

  StepResult second = env.steps().Run(*op, op->steps[1], StepControl{});
  ASSERT_TRUE(second.done()) << second.error().ToString();
  EXPECT_NE(second.message(), first.message())
      << "the second run says it found the PKI: " << second.message();
  EXPECT_NE(second.message().find("already"), std::string::npos) << second.message();
  auto again = env.Secrets(cluster_id);
  ASSERT_TRUE(again.has_value());
  ExpectSameSecrets(*issued, *again);

  // The engine, resumed, runs the step a third time (it never recorded it) and finishes.
  env.StartEngine();
  store::Operation done = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(done.state, "succeeded") << done.error;
  ExpectHealthyDevCluster(env, cluster_id);
  auto after = env.Secrets(cluster_id);
  ASSERT_TRUE(after.has_value());
  ExpectSameSecrets(*issued, *after);
}

TEST(ClusterEngineTest, ACrashRightAfterIssuePkiThenResumeKeepsTheSameCa) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(2));
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  env.WaitIdle();
  auto issued = env.Secrets(cluster_id);
  ASSERT_TRUE(issued.has_value());

  env.StartEngine();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.steps[1].attempts, 1) << "a recorded issue_pki does not run again";
  ExpectHealthyDevCluster(env, cluster_id);
  ExpectSealedPki(env, cluster_id, "billing-dev");
  auto after = env.Secrets(cluster_id);
  ASSERT_TRUE(after.has_value());
  ExpectSameSecrets(*issued, *after);
}

TEST(ClusterEngineTest, ACrashInsideIssuePkiAfterTheRowWasWrittenKeepsTheSameCa) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(2));
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string cluster_id = created->cluster.id;
  env.WaitIdle();
  auto issued = env.Secrets(cluster_id);
  ASSERT_TRUE(issued.has_value());

  // What a process killed between storing the secrets and recording the step leaves behind.
  auto op = env.FindOperation(created->operation.id);
  ASSERT_TRUE(op.has_value());
  store::Step step = op->steps[1];
  ASSERT_EQ(step.kind, "issue_pki");
  step.state = "running";
  step.message = "";
  step.finished_at = 0;
  ASSERT_TRUE(env.db()
                  .Write([&](store::Tx& tx) {
                    store::operations::UpdateStep(tx, step);
                    return Status::Ok();
                  })
                  .ok());

  env.StartEngine();
  store::Operation done = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(done.state, "succeeded") << done.error;
  EXPECT_EQ(done.steps[1].attempts, 2) << "the interrupted step ran again";
  EXPECT_NE(done.steps[1].message.find("already"), std::string::npos) << done.steps[1].message;
  ExpectHealthyDevCluster(env, cluster_id);
  auto after = env.Secrets(cluster_id);
  ASSERT_TRUE(after.has_value());
  ExpectSameSecrets(*issued, *after);
}

TEST(ClusterEngineTest, DeleteRemovesOnlyThatClustersSecrets) {
  Env env(TestName());
  env.StartEngine();
  auto doomed = env.Create(Env::DevRequest("doomed"));
  ASSERT_TRUE(doomed.ok()) << doomed.status().ToString();
  auto kept = env.Create(Env::DevRequest("kept"));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(env.WaitForOperation(doomed->operation.id).state, "succeeded");
  ASSERT_EQ(env.WaitForOperation(kept->operation.id).state, "succeeded");
  ExpectSealedPki(env, doomed->cluster.id, "doomed");
  ExpectSealedPki(env, kept->cluster.id, "kept");
  auto kept_before = env.Secrets(kept->cluster.id);
  ASSERT_TRUE(kept_before.has_value());
  EXPECT_NE(env.Secrets(doomed->cluster.id)->ca_cert, kept_before->ca_cert)
      << "each cluster has its own CA";

  auto deleted = env.Delete(doomed->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_FALSE(env.Secrets(doomed->cluster.id).has_value());
  auto kept_after = env.Secrets(kept->cluster.id);
  ASSERT_TRUE(kept_after.has_value());
  ExpectSameSecrets(*kept_before, *kept_after);
}

TEST(ClusterEngineTest, RestingStatusOfEachOperationType) {
  EXPECT_EQ(RestingStatus("create"), "running");
  EXPECT_EQ(RestingStatus("scale_workers"), "running");
  EXPECT_EQ(RestingStatus("upgrade"), "running");
  EXPECT_EQ(RestingStatus("delete"), "deleted");
}

// ================================================================== cluster changes

// More hypervisors, for clusters of 5 masters kept apart.
void AddHypervisors(Env& env, const std::vector<std::string>& names) {
  ASSERT_TRUE(env.db()
                  .Write([&](store::Tx& tx) {
                    for (const auto& hv : names) {
                      store::hypervisors::Upsert(tx, {hv, "fake://" + hv, 128, 512, "active", 1});
                    }
                    return Status::Ok();
                  })
                  .ok());
}

void SetQuotaAndHosts(Env& env, store::QuotaLimits limits, int hosts) {
  ASSERT_TRUE(env.db()
                  .Write([&](store::Tx& tx) {
                    store::quotas::Put(tx, kTeamId, limits, 1);
                    for (int i = 1; i <= hosts; ++i) {
                      std::string name = "host-" + std::to_string(i);
                      store::hosts::Upsert(tx, {name, "10.0.0." + std::to_string(i), 32, 128, "{}",
                                                "available", "", 1});
                    }
                    return Status::Ok();
                  })
                  .ok());
}

std::vector<store::Host> Hosts(Env& env) {
  std::vector<store::Host> hosts;
  EXPECT_OK(env.db().Read([&](store::Tx& tx) {
    hosts = store::hosts::List(tx);
    return Status::Ok();
  }));
  return hosts;
}

std::vector<store::Operation> OperationsOf(Env& env, const std::string& cluster_id) {
  std::vector<store::Operation> ops;
  EXPECT_OK(env.db().Read([&](store::Tx& tx) {
    ops = store::operations::ListForCluster(tx, cluster_id, 100);
    return Status::Ok();
  }));
  return ops;
}

std::set<std::string> RoleNames(const std::vector<store::Node>& nodes, const std::string& role) {
  std::set<std::string> out;
  for (const auto& n : nodes) {
    if (n.role == role) out.insert(n.name);
  }
  return out;
}

std::set<std::string> Numbered(const std::string& prefix, std::initializer_list<int> numbers) {
  std::set<std::string> out;
  for (int i : numbers) out.insert(prefix + std::to_string(i));
  return out;
}

std::set<std::string> NumberedRange(const std::string& prefix, int from, int to) {
  std::set<std::string> out;
  for (int i = from; i <= to; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

// Creates a cluster with the normal engine and waits until it runs.
std::string CreateRunning(Env& env, const CreateClusterRequest& r) {
  auto created = env.Create(r);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) return "";
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  return created->cluster.id;
}

CreateClusterRequest Request(const std::string& purpose, int64_t workers,
                             const std::string& worker_flavor = "w.medium",
                             const std::string& version = "") {
  CreateClusterRequest r = Env::DevRequest();
  r.purpose = purpose;
  r.worker_count = workers;
  r.worker_flavor = worker_flavor;
  r.kubernetes_version = version;
  return r;
}

// What must hold whenever a cluster rests after an operation (the only cluster of `env`): every
// node ready, an odd number of masters of one flavor, the cluster record describing its live
// nodes, exactly one running domain of the node's size per VM node (and no other domain), one
// allocated host per physical node, and quota usage equal to what the live nodes hold.
void ExpectConsistentCluster(Env& env, const std::string& cluster_id) {
  auto c = env.FindCluster(cluster_id);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status, "running") << c->status_reason;
  auto nodes = env.LiveNodes(cluster_id);
  int64_t masters = 0, workers = 0, vcpus = 0, memory = 0, physical = 0;
  std::set<std::string> domains, hosts, master_hypervisors;
  for (const auto& n : nodes) {
    SCOPED_TRACE(n.name);
    EXPECT_EQ(n.state, "ready");
    (n.role == "master" ? masters : workers)++;
    if (n.role == "master") {
      EXPECT_EQ(n.flavor, c->master_flavor);
      EXPECT_EQ(n.kind, c->master_kind);
    }
    EXPECT_EQ(n.kubernetes_version, c->kubernetes_version);
    if (n.kind == "vm") {
      vcpus += n.vcpus;
      memory += n.memory_gib;
      std::string name = DomainName(cluster_id, n.name);
      domains.insert(name);
      auto d = env.fleet().Domain(name);
      ASSERT_TRUE(d.has_value()) << "no domain for " << n.name;
      EXPECT_TRUE(d->running);
      EXPECT_EQ(d->vcpus, n.vcpus);
      EXPECT_EQ(d->memory_gib, n.memory_gib);
      EXPECT_EQ(env.fleet().Domains()[name], n.hypervisor);
      if (n.role == "master") {
        EXPECT_TRUE(master_hypervisors.insert(n.hypervisor).second)
            << "masters share " << n.hypervisor;
      }
    } else {
      ++physical;
      EXPECT_TRUE(hosts.insert(n.host).second) << n.host << " carries two nodes";
    }
  }
  EXPECT_EQ(masters % 2, 1) << masters << " masters: etcd rests at an even member count";
  EXPECT_EQ(c->master_count, masters);
  EXPECT_EQ(c->worker_count, workers);
  EXPECT_EQ(Keys(env.fleet().Domains()), domains) << "orphan or missing domains";
  std::set<std::string> allocated;
  for (const auto& h : Hosts(env)) {
    if (h.cluster_id == cluster_id) {
      EXPECT_EQ(h.state, "allocated") << h.name;
      allocated.insert(h.name);
    } else {
      EXPECT_EQ(h.state, "available") << h.name;
    }
  }
  EXPECT_EQ(allocated, hosts) << "orphan or missing host allocations";
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.clusters, 1);
  EXPECT_EQ(used.vcpus, vcpus);
  EXPECT_EQ(used.memory_gib, memory);
  EXPECT_EQ(used.physical_hosts, physical);
  EXPECT_EQ(env.ActiveOperationCount(), 0u);
}

std::vector<std::string> Kinds(const store::Operation& op) {
  std::vector<std::string> out;
  for (const auto& s : op.steps) out.push_back(s.kind);
  return out;
}

size_t FirstIndexOf(const store::Operation& op, const std::string& kind) {
  for (size_t i = 0; i < op.steps.size(); ++i) {
    if (op.steps[i].kind == kind) return i;
  }
  return op.steps.size();
}
size_t LastIndexOf(const store::Operation& op, const std::string& kind) {
  size_t last = op.steps.size();
  for (size_t i = 0; i < op.steps.size(); ++i) {
    if (op.steps[i].kind == kind) last = i;
  }
  return last;
}

void ExpectAllSucceededOnce(const store::Operation& op) {
  EXPECT_EQ(op.state, "succeeded") << op.error;
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "succeeded") << s.name;
    EXPECT_EQ(s.attempts, 1) << s.name;
    EXPECT_FALSE(s.message.empty()) << s.name;
  }
}

// (playbook, target) -> runs, over every completed bootstrap job.
std::map<std::pair<std::string, std::string>, int> JobTargets(Env& env) {
  return env.bootstrapper().Targeted();
}

TEST(ClusterChangeTest, ScaleMastersOneThreeFiveThreeOne) {
  Env env(TestName());
  AddHypervisors(env, {"sim-4", "sim-5"});
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 2));
  ASSERT_FALSE(id.empty());
  ExpectConsistentCluster(env, id);
  ASSERT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1}));

  struct Step {
    int64_t count;
    std::set<std::string> masters;
  };
  for (const Step& s : std::vector<Step>{{3, Numbered("master-", {1, 2, 3})},
                                         {5, Numbered("master-", {1, 2, 3, 4, 5})},
                                         {3, Numbered("master-", {1, 2, 3})},
                                         {1, Numbered("master-", {1})}}) {
    SCOPED_TRACE("to " + std::to_string(s.count) + " masters");
    int64_t before = env.FindCluster(id)->master_count;
    auto changed = env.service().ScaleMasters(id, s.count, "alice", false);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    EXPECT_EQ(changed->operation.type, "scale_masters");
    EXPECT_EQ(changed->cluster.status, "updating");
    EXPECT_EQ(changed->operation.params, "{\"masters\":\"" + std::to_string(s.count) + "\"}");
    store::Operation op = env.WaitForOperation(changed->operation.id);
    ExpectAllSucceededOnce(op);
    // One member per step: as many learner adds / removals as masters added / removed.
    int64_t learners = 0, removals = 0;
    for (const auto& st : op.steps) {
      learners += st.kind == "etcd_add_learner";
      removals += st.kind == "etcd_remove";
    }
    EXPECT_EQ(learners, std::max<int64_t>(s.count - before, 0));
    EXPECT_EQ(removals, std::max<int64_t>(before - s.count, 0));
    ExpectConsistentCluster(env, id);
    auto nodes = env.LiveNodes(id);
    EXPECT_EQ(RoleNames(nodes, "master"), s.masters);
    EXPECT_EQ(RoleNames(nodes, "worker"), Numbered("worker-", {1, 2}));
    EXPECT_EQ(env.FindCluster(id)->master_count, s.count);
    EXPECT_EQ(env.FindCluster(id)->status_reason, "");
  }
  // Every member joined as a learner and was promoted once; every removed one left etcd once.
  auto jobs = JobTargets(env);
  for (const char* m : {"master-2", "master-3", "master-4", "master-5"}) {
    EXPECT_EQ((jobs[{"join-master.yml", m}]), 1) << m;
    EXPECT_EQ((jobs[{"promote-master.yml", m}]), 1) << m;
    EXPECT_EQ((jobs[{"remove-master.yml", m}]), 1) << m;
  }
  EXPECT_EQ((jobs[{"remove-master.yml", "master-1"}]), 0) << "the last member never leaves";
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
}

TEST(ClusterChangeTest, ScaleMastersRefusesEvenOrUnchangedCountsAndDryRunChangesNothing) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 0));
  ASSERT_FALSE(id.empty());
  for (int64_t count : {0, 2, 4, 6, -1}) {
    auto r = env.service().ScaleMasters(id, count, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << count;
    EXPECT_EQ(r.status().field(), "count") << count;
  }
  auto same = env.service().ScaleMasters(id, 1, "alice", false);
  EXPECT_EQ(same.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(same.status().field(), "count");
  EXPECT_EQ(env.service().ScaleMasters("cl-nope", 3, "alice", false).status().code(),
            Code::kNotFound);

  auto dry = env.service().ScaleMasters(id, 3, "alice", /*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(Kinds(dry->operation),
            (std::vector<std::string>{"provision_nodes", "health_gate", "etcd_add_learner",
                                      "etcd_promote", "health_gate", "etcd_add_learner",
                                      "etcd_promote", "verify"}));
  EXPECT_EQ(RoleNames(dry->nodes, "master"), Numbered("master-", {1, 2, 3}));
  std::set<std::string> hvs;
  for (const auto& n : dry->nodes) hvs.insert(n.hypervisor);
  EXPECT_EQ(hvs.size(), 3u) << "the planned masters are placed apart";
  EXPECT_EQ(env.LiveNodes(id).size(), 1u);
  EXPECT_EQ(OperationsOf(env, id).size(), 1u);
  EXPECT_EQ(env.FindCluster(id)->status, "running");
  ExpectConsistentCluster(env, id);
}

TEST(ClusterChangeTest, FiveMastersNeedFiveHypervisorsUnlessColocationIsAllowed) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 0));
  ASSERT_FALSE(id.empty());
  auto refused = env.service().ScaleMasters(id, 5, "alice", false);
  EXPECT_EQ(refused.status().code(), Code::kInsufficientCapacity);
  EXPECT_EQ(env.LiveNodes(id).size(), 3u);
  auto allowed = env.service().ScaleMasters(id, 5, "alice", false, /*allow_colocated=*/true);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(allowed->operation.id));
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3, 4, 5}));
}

TEST(ClusterChangeTest, ScaleWorkersAcrossFiftyResizesMastersFirstAndBackAfterRemovingWorkers) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 3));
  ASSERT_FALSE(id.empty());

  auto up = env.service().ScaleWorkers(id, 51, "alice", false);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  store::Operation op = env.WaitForOperation(up->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(std::count_if(op.steps.begin(), op.steps.end(),
                          [](const store::Step& s) { return s.kind == "resize_node"; }),
            3);
  EXPECT_LT(LastIndexOf(op, "resize_node"), FirstIndexOf(op, "provision_nodes"))
      << "masters grow before the workers come";
  for (size_t i = 0; i < op.steps.size(); ++i) {
    if (op.steps[i].kind == "resize_node") {
      EXPECT_EQ(op.steps[i - 1].kind, "health_gate") << op.steps[i].name;
    }
  }
  ExpectConsistentCluster(env, id);
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.medium");
  EXPECT_EQ(c->worker_count, 51);
  for (const auto& n : env.LiveNodes(id)) {
    if (n.role != "master") continue;
    EXPECT_EQ(n.vcpus, 8) << n.name;
    EXPECT_EQ(n.memory_gib, 8) << n.name;
    EXPECT_EQ(env.fleet().Domain(DomainName(id, n.name))->vcpus, 8) << n.name;
    EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 1) << n.name;
  }
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 51));

  // Back to 50: the worker goes first (drained, then removed), then the masters shrink.
  auto down = env.service().ScaleWorkers(id, 50, "alice", false);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  op = env.WaitForOperation(down->operation.id);
  ExpectAllSucceededOnce(op);
  ASSERT_LT(FirstIndexOf(op, "drain_nodes"), op.steps.size());
  EXPECT_EQ(op.steps[FirstIndexOf(op, "drain_nodes")].target, "worker-51");
  EXPECT_LT(FirstIndexOf(op, "drain_nodes"), FirstIndexOf(op, "destroy_nodes"));
  EXPECT_LT(FirstIndexOf(op, "destroy_nodes"), FirstIndexOf(op, "resize_node"))
      << "masters shrink after the workers left";
  ExpectConsistentCluster(env, id);
  c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.small");
  EXPECT_EQ(c->worker_count, 50);
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 50));
  for (const auto& n : env.LiveNodes(id)) {
    if (n.role != "master") continue;
    auto d = env.fleet().Domain(DomainName(id, n.name));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->vcpus, 4) << n.name;
    EXPECT_EQ(d->memory_gib, 4) << n.name;
    EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 2) << n.name;
  }
  EXPECT_EQ(env.bootstrapper().Runs("drain-node.yml"),
            (std::vector<std::pair<std::string, std::vector<std::string>>>{
                {"drain-node.yml", {"worker-51"}}}));

  // Within a band nothing happens to the masters.
  auto small = env.service().ScaleWorkers(id, 48, "alice", false);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  op = env.WaitForOperation(small->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(Kinds(op), (std::vector<std::string>{"drain_nodes", "destroy_nodes", "verify"}));
  EXPECT_EQ(op.steps[0].target, "worker-50,worker-49");
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), NumberedRange("worker-", 1, 48));
}

TEST(ClusterChangeTest, ScaleWorkersRefusesBadOrUnchangedCounts) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 2));
  ASSERT_FALSE(id.empty());
  for (int64_t count : {-1, 501, 2}) {
    auto r = env.service().ScaleWorkers(id, count, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << count;
    EXPECT_EQ(r.status().field(), "count") << count;
  }
  EXPECT_EQ(OperationsOf(env, id).size(), 1u);
}

TEST(ClusterChangeTest, ScaleWorkersAcrossHundredMovesMastersToPhysicalHostsOneAtATime) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 3, "w.small"));
  ASSERT_FALSE(id.empty());

  // Physical masters need physical hosts in the team's quota (the default allows none).
  SetQuotaAndHosts(env, {5, 1000, 4000, 0}, 3);
  auto refused = env.service().ScaleWorkers(id, 101, "alice", false);
  ASSERT_EQ(refused.status().code(), Code::kQuotaExceeded) << refused.status().ToString();
  ASSERT_EQ(refused.status().shortfalls().size(), 1u);
  EXPECT_EQ(refused.status().shortfalls()[0].resource, "physical_hosts");
  EXPECT_EQ(refused.status().shortfalls()[0].requested, 3);
  EXPECT_EQ(env.LiveNodes(id).size(), 6u) << "a refused change reserves nothing";
  ExpectConsistentCluster(env, id);

  SetQuotaAndHosts(env, {5, 1000, 4000, 3}, 3);
  auto up = env.service().ScaleWorkers(id, 101, "alice", false);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  store::Operation op = env.WaitForOperation(up->operation.id);
  ExpectAllSucceededOnce(op);
  // Each old master leaves etcd only after its physical replacement was promoted.
  std::vector<std::string> membership;
  for (const auto& s : op.steps) {
    if (s.kind == "etcd_promote" || s.kind == "etcd_remove") membership.push_back(s.name);
  }
  EXPECT_EQ(membership,
            (std::vector<std::string>{"promote master-4 to voter", "remove master-1 from etcd",
                                      "promote master-5 to voter", "remove master-2 from etcd",
                                      "promote master-6 to voter", "remove master-3 from etcd"}));
  EXPECT_LT(LastIndexOf(op, "destroy_nodes"), FirstIndexOf(op, "provision_nodes"))
      << "masters move before the workers come";

  ExpectConsistentCluster(env, id);
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->master_flavor, "m.large");
  EXPECT_EQ(c->master_kind, "physical");
  EXPECT_EQ(c->worker_count, 101);
  auto nodes = env.LiveNodes(id);
  EXPECT_EQ(RoleNames(nodes, "master"), Numbered("master-", {4, 5, 6}));
  std::set<std::string> hosts;
  for (const auto& n : nodes) {
    if (n.role == "master") hosts.insert(n.host);
  }
  EXPECT_EQ(hosts, (std::set<std::string>{"host-1", "host-2", "host-3"}));
  for (const char* old : {"master-1", "master-2", "master-3"}) {
    EXPECT_FALSE(env.fleet().Domain(DomainName(id, old)).has_value()) << old << " still exists";
  }
  EXPECT_EQ(env.fleet().Domains().size(), 101u) << "only the workers are VMs now";
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.physical_hosts, 3);
  EXPECT_EQ(used.vcpus, 101 * 2);
  EXPECT_EQ(used.memory_gib, 101 * 4);
}

TEST(ClusterChangeTest, ResizeMastersRollsOneAtATimeAndRefusesWhatThePolicyForbids) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(env.service().ResizeMasters(id, "m.huge", "alice", false).status().field(), "flavor");
  auto same = env.service().ResizeMasters(id, "m.small", "alice", false);
  EXPECT_EQ(same.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(same.status().field(), "flavor");

  auto resized = env.service().ResizeMasters(id, "m.medium", "alice", false);
  ASSERT_TRUE(resized.ok()) << resized.status().ToString();
  ASSERT_EQ(resized->operation.steps.size(), 3u);
  EXPECT_EQ(resized->operation.steps[1].name,
            "resize master-1 (single master: API briefly unavailable)");
  store::Operation op = env.WaitForOperation(resized->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_NE(op.steps[1].message.find("8 vCPU"), std::string::npos) << op.steps[1].message;
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
  EXPECT_EQ(env.fleet().Domain(DomainName(id, "master-1"))->memory_gib, 8);
  EXPECT_EQ(env.Usage().vcpus, 8 + 4);

  // With 51 workers the policy needs m.medium at least.
  auto grown = env.service().ScaleWorkers(id, 51, "alice", false);
  ASSERT_TRUE(grown.ok()) << grown.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(grown->operation.id));
  auto below = env.service().ResizeMasters(id, "m.small", "alice", false);
  EXPECT_EQ(below.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(below.status().field(), "flavor");
}

TEST(ClusterChangeTest, UpgradeTakesAPatchThenTheNextMinorAndEveryNodeReportsItsVersion) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 5, "w.small", "1.30.2"));
  ASSERT_FALSE(id.empty());

  auto patch = env.service().Upgrade(id, "1.30.8", 2, "alice", false);
  ASSERT_TRUE(patch.ok()) << patch.status().ToString();
  EXPECT_EQ(patch->operation.type, "upgrade");
  store::Operation op = env.WaitForOperation(patch->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.30.8");
  for (const auto& n : env.LiveNodes(id)) EXPECT_EQ(n.kubernetes_version, "1.30.8") << n.name;
  ExpectConsistentCluster(env, id);
  // Masters one at a time (each behind a health gate), then workers two at a time.
  std::vector<std::vector<std::string>> batches;
  std::vector<std::string> widths;
  for (const auto& j : env.bootstrapper().Jobs()) {
    if (j.playbook != "upgrade-node.yml") continue;
    batches.push_back(j.targets);
    EXPECT_EQ(j.kubernetes_version, "1.30.8");
    widths.push_back(j.extra_vars.at("max_unavailable"));
  }
  EXPECT_EQ(batches, (std::vector<std::vector<std::string>>{{"master-1"},
                                                            {"master-2"},
                                                            {"master-3"},
                                                            {"worker-1", "worker-2"},
                                                            {"worker-3", "worker-4"},
                                                            {"worker-5"}}));
  EXPECT_EQ(widths, (std::vector<std::string>{"1", "1", "1", "2", "2", "1"}));
  EXPECT_EQ(Kinds(op),
            (std::vector<std::string>{
                "health_gate", "upgrade_nodes", "health_gate", "upgrade_nodes", "health_gate",
                "upgrade_nodes", "upgrade_nodes", "upgrade_nodes", "upgrade_nodes", "verify"}));

  auto minor = env.service().Upgrade(id, "1.31.4", 1, "alice", false);
  ASSERT_TRUE(minor.ok()) << minor.status().ToString();
  op = env.WaitForOperation(minor->operation.id);
  ExpectAllSucceededOnce(op);
  EXPECT_EQ(std::count_if(op.steps.begin(), op.steps.end(),
                          [](const store::Step& s) { return s.kind == "upgrade_nodes"; }),
            8)
      << "one step per master and per worker";
  EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.31.4");
  for (const auto& n : env.LiveNodes(id)) EXPECT_EQ(n.kubernetes_version, "1.31.4") << n.name;
  ExpectConsistentCluster(env, id);
}

TEST(ClusterChangeTest, UpgradeRefusesSkipsDowngradesSameAndUnsupportedVersions) {
  Env env(TestName());
  env.StartEngine();
  CreateClusterRequest old_r = Request("personal", 1, "w.small", "1.29.12");
  old_r.name = "old";
  CreateClusterRequest cur_r = Request("personal", 1, "w.small", "1.30.8");
  cur_r.name = "cur";
  const std::string old_id = CreateRunning(env, old_r);
  const std::string cur_id = CreateRunning(env, cur_r);
  ASSERT_FALSE(old_id.empty());
  ASSERT_FALSE(cur_id.empty());
  struct Case {
    std::string cluster, version, what;
  };
  for (const auto& c : std::vector<Case>{
           {old_id, "1.31.4", "skips a minor"},
           {cur_id, "1.29.12", "downgrades a minor"},
           {cur_id, "1.30.2", "downgrades a patch"},
           {cur_id, "1.30.8", "is the same version"},
           {cur_id, "1.31.0", "is not a supported version"},
           {cur_id, "1.32.0", "is not a supported version"},
           {cur_id, "latest", "is not a version"},
           {cur_id, "", "is empty"},
       }) {
    SCOPED_TRACE(c.version + " " + c.what);
    auto r = env.service().Upgrade(c.cluster, c.version, 1, "alice", false);
    EXPECT_EQ(r.status().code(), Code::kInvalidUpgrade) << r.status().ToString();
    EXPECT_EQ(r.status().field(), "kubernetes_version");
    EXPECT_NE(r.status().message().find(c.version), std::string::npos) << r.status().message();
    auto dry = env.service().Upgrade(c.cluster, c.version, 1, "alice", /*dry_run=*/true);
    EXPECT_EQ(dry.status().code(), Code::kInvalidUpgrade);
  }
  auto bad_width = env.service().Upgrade(cur_id, "1.31.4", 0, "alice", false);
  EXPECT_EQ(bad_width.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad_width.status().field(), "max_unavailable");
  for (const auto& id : {old_id, cur_id}) {
    EXPECT_EQ(OperationsOf(env, id).size(), 1u) << "a refused upgrade persists nothing";
    EXPECT_EQ(env.FindCluster(id)->status, "running");
  }
  // The old cluster may go one minor up.
  auto next = env.service().Upgrade(old_id, "1.30.2", 1, "alice", false);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ExpectAllSucceededOnce(env.WaitForOperation(next->operation.id));
  EXPECT_EQ(env.FindCluster(old_id)->kubernetes_version, "1.30.2");
}

TEST(ClusterChangeTest, ASecondChangeWhileOneIsActiveIsRefused) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.StartEngine(Env::CrashBefore(1));  // the scale stays active
  auto first = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  env.WaitIdle();
  EXPECT_EQ(env.service().ScaleWorkers(id, 3, "alice", false).status().code(),
            Code::kOperationInProgress);
  EXPECT_EQ(env.service().ScaleMasters(id, 3, "alice", false).status().code(),
            Code::kOperationInProgress);
  EXPECT_EQ(env.service().Upgrade(id, "1.31.4", 1, "alice", false).status().code(),
            Code::kOperationInProgress);
  env.StartEngine();
  ExpectAllSucceededOnce(env.WaitForOperation(first->operation.id));
  ExpectConsistentCluster(env, id);
}

// ------------------------------------------------------------------ cancel and retry

// Cancels the job's cluster's active operation from inside the first bootstrap job that
// matches, i.e. while that step is running.
void CancelDuring(Env& env, const std::string& playbook, const std::string& target) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  env.bootstrapper().OnRun([&env, playbook, target, fired](const provisioner::BootstrapJob& job) {
    if (job.playbook != playbook ||
        std::find(job.targets.begin(), job.targets.end(), target) == job.targets.end() ||
        fired->exchange(true)) {
      return;
    }
    std::optional<store::Operation> active;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      active = store::operations::FindActiveForCluster(tx, job.cluster_id);
      return Status::Ok();
    }));
    ASSERT_TRUE(active.has_value());
    auto cancelled = env.service().Cancel(active->id);
    ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
    EXPECT_TRUE(cancelled->cancel_requested);
  });
}

int ReadyMasters(Env& env, const std::string& cluster_id) {
  int n = 0;
  for (const auto& node : env.LiveNodes(cluster_id)) {
    n += node.role == "master" && node.state == "ready";
  }
  return n;
}

TEST(CancelRetryTest, CancelDuringANonCancelSafeStepRunsOnToAnOddVoterCount) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());

  // Record the voters at every step boundary of the change.
  auto voters_seen = std::make_shared<std::vector<int>>();
  auto mu = std::make_shared<std::mutex>();
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<test_support::BeforeStepHooks>(
      [&env, id, voters_seen, mu](const std::string&, int64_t) {
        int v = ReadyMasters(env, id);
        std::lock_guard lock(*mu);
        voters_seen->push_back(v);
        return true;
      });
  env.StartEngine(o);
  // The cancel arrives while master-2 is being promoted (1 -> 2 voters, not cancel-safe).
  CancelDuring(env, "promote-master.yml", "master-2");
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  env.WaitIdle();
  EXPECT_EQ(op.state, "cancelled");
  EXPECT_NE(op.error.find("cancelled before step 'verify cluster'"), std::string::npos) << op.error;
  ASSERT_EQ(op.steps.size(), 8u);
  for (size_t i = 0; i + 1 < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, "succeeded") << op.steps[i].name;
  }
  EXPECT_EQ(op.steps[6].name, "promote master-3 to voter");
  EXPECT_EQ(op.steps[7].state, "cancelled");
  EXPECT_TRUE(env.bootstrapper().Cancelled().empty())
      << "a step that would leave an even member count was interrupted";
  EXPECT_EQ(ReadyMasters(env, id), 3) << "the cancel stopped at an even member count";
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "running");
  EXPECT_NE(c->status_reason.find("cancelled"), std::string::npos) << c->status_reason;
  EXPECT_EQ(c->master_count, 3);
  {
    std::lock_guard lock(*mu);
    // Boundaries: before each of the 7 steps that ran, and the one where the cancel took hold
    // is not reached (the cancel is checked first).
    EXPECT_EQ(*voters_seen, (std::vector<int>{1, 1, 1, 1, 2, 2, 2}));
  }
  EXPECT_EQ(env.service().Cancel(op.id).status().code(), Code::kConflict);
  EXPECT_EQ(env.service().Cancel("op-nope").status().code(), Code::kNotFound);
}

TEST(CancelRetryTest, CancelOfACreateEndsInErrorAndDeleteCleansEverything) {
  Env env(TestName());
  env.StartEngine();
  // Joining the workers starts and ends at an odd member count, so the running Ansible is
  // stopped and the operation ends right there.
  CancelDuring(env, "join-worker.yml", "worker-1");
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  ASSERT_EQ(op.steps.size(), 9u);
  ASSERT_EQ(op.steps[7].name, "join workers");
  for (size_t i = 0; i < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, i < 7 ? "succeeded" : "cancelled") << op.steps[i].name;
  }
  EXPECT_EQ(op.steps[7].attempts, 1);
  EXPECT_NE(op.steps[7].message.find("stopped by a cancel"), std::string::npos)
      << op.steps[7].message;
  EXPECT_EQ(op.steps[8].attempts, 0) << "nothing after the interrupted step ran";
  EXPECT_EQ(op.error, "create cancelled during step 'join workers'");
  ASSERT_EQ(env.bootstrapper().Cancelled().size(), 1u);
  EXPECT_EQ(env.bootstrapper().Cancelled()[0].playbook, "join-worker.yml");
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "error");
  EXPECT_NE(c->status_reason.find("cancelled"), std::string::npos) << c->status_reason;
  EXPECT_FALSE(env.fleet().Domains().empty());
  EXPECT_EQ(env.service().ScaleWorkers(id, 5, "alice", false).status().code(), Code::kConflict)
      << "a cancelled create is not a running cluster";

  auto deleted = env.Delete(id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_EQ(env.FindCluster(id)->status, "deleted");
  EXPECT_TRUE(env.LiveNodes(id).empty());
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_FALSE(env.Secrets(id).has_value());
  quota::Usage used = env.Usage();
  EXPECT_EQ(used.clusters, 0);
  EXPECT_EQ(used.vcpus, 0);
  EXPECT_EQ(used.memory_gib, 0);
  EXPECT_TRUE(env.HypervisorUsage().empty());
}

TEST(CancelRetryTest, ACreateCancelledWhileJoiningTheSecondMasterRunsOnToTheThird) {
  Env env(TestName());
  env.StartEngine();
  CancelDuring(env, "join-master.yml", "master-2");
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  ASSERT_EQ(op.steps.size(), 9u);
  ASSERT_EQ(op.steps[5].name, "join master-3");
  for (size_t i = 0; i < op.steps.size(); ++i) {
    EXPECT_EQ(op.steps[i].state, i < 6 ? "succeeded" : "cancelled") << op.steps[i].name;
  }
  EXPECT_EQ(op.error, "create cancelled before step 'provision workers'");
  EXPECT_TRUE(env.bootstrapper().Cancelled().empty()) << "a join to 2 members was interrupted";
  EXPECT_EQ(ReadyMasters(env, created->cluster.id), 3);
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
}

TEST(CancelRetryTest, CancelOfAnOperationThatHasNotStartedEndsItBeforeAnyStep) {
  Env env(TestName());
  env.StartEngine(Env::CrashBefore(0));  // marks it running, then dies before step 0
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  env.WaitIdle();
  auto cancelled = env.service().Cancel(created->operation.id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "cancelled");
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "cancelled") << s.name;
    EXPECT_EQ(s.attempts, 0) << s.name;
  }
  EXPECT_TRUE(env.fleet().Domains().empty());
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
  env.StartEngine();
  auto deleted = env.Delete(created->cluster.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  EXPECT_EQ(env.Usage().vcpus, 0);
  EXPECT_TRUE(env.HypervisorUsage().empty());
}

TEST(CancelRetryTest, RetryResumesAFailedOperationFromTheFailedStep) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.faults().Set({FaultRule{.on = "step",
                              .match = "add master-2 to etcd as learner",
                              .action = "fail",
                              .code = "internal"}});
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  ASSERT_EQ(op.state, "failed");
  ASSERT_EQ(op.steps[2].name, "add master-2 to etcd as learner");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 1) << "a permanent error is not retried";
  EXPECT_NE(op.steps[2].message.find("injected fault"), std::string::npos) << op.steps[2].message;
  EXPECT_EQ(op.steps[0].state, "succeeded");
  EXPECT_EQ(op.steps[1].state, "succeeded");
  for (size_t i = 3; i < op.steps.size(); ++i) EXPECT_EQ(op.steps[i].state, "pending");
  auto c = env.FindCluster(id);
  EXPECT_EQ(c->status, "error");
  EXPECT_NE(c->status_reason.find("add master-2 to etcd as learner"), std::string::npos)
      << c->status_reason;
  EXPECT_EQ(ReadyMasters(env, id), 1);

  env.faults().Set({});
  auto retried = env.service().Retry(op.id);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(retried->state, "pending");
  op = env.WaitForOperation(op.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.error, "");
  for (const auto& s : op.steps) {
    EXPECT_EQ(s.state, "succeeded") << s.name;
    EXPECT_EQ(s.attempts, s.index == 2 ? 2 : 1) << s.name << ": resumed from the failed step";
  }
  ExpectConsistentCluster(env, id);
  EXPECT_EQ(env.FindCluster(id)->status_reason, "");
  EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
  auto jobs = JobTargets(env);
  EXPECT_EQ((jobs[{"join-master.yml", "master-2"}]), 1);
  EXPECT_EQ((jobs[{"promote-master.yml", "master-3"}]), 1);
}

// A client that retries the moment it sees the failure (while the engine thread is still
// winding the operation down) must not lose the retry.
TEST(CancelRetryTest, ARetryRightAfterTheFailureIsNotLost) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  env.faults().Set({FaultRule{.match = "verify", .code = "internal", .times = 0}});
  auto scaled = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  const std::string op_id = scaled->operation.id;
  auto state = [&] {
    std::string s;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      s = store::operations::Find(tx, op_id)->state;
      return Status::Ok();
    }));
    return s;
  };
  // Waits, without sleeping, until the state is `want` (or the deadline passes).
  auto spin_until = [&](const std::function<bool(const std::string&)>& want) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    std::string s = state();
    while (!want(s) && std::chrono::steady_clock::now() < deadline) s = state();
    return s;
  };
  for (int round = 1; round <= 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(spin_until([](const std::string& s) { return s == "failed"; }), "failed");
    ASSERT_TRUE(env.service().Retry(op_id).ok());
    ASSERT_NE(spin_until([](const std::string& s) { return s != "pending"; }), "pending")
        << "the retried operation was never picked up";
  }
  ASSERT_EQ(spin_until([](const std::string& s) { return s == "failed"; }), "failed");
  env.faults().Set({});
  ASSERT_TRUE(env.service().Retry(op_id).ok());
  store::Operation op = env.WaitForOperation(op_id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.steps.back().attempts, 22) << "one attempt per run of the failing step";
  ExpectConsistentCluster(env, id);
}

TEST(CancelRetryTest, RetryIsRefusedForSucceededActiveOrNotLatestOperations) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  auto created = env.Create(Request("personal", 1));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  ASSERT_EQ(env.WaitForOperation(created->operation.id).state, "succeeded");
  EXPECT_EQ(env.service().Retry(created->operation.id).status().code(), Code::kConflict)
      << "a succeeded operation";
  EXPECT_EQ(env.service().Retry("op-nope").status().code(), Code::kNotFound);

  env.faults().Set({FaultRule{.on = "step", .match = "verify", .code = "internal"}});
  auto scaled = env.service().ScaleWorkers(id, 2, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  ASSERT_EQ(env.WaitForOperation(scaled->operation.id).state, "failed");
  env.faults().Set({});

  // A delete (admitted on a cluster in error) becomes the latest operation.
  env.StartEngine([&] {
    EngineOptions crash = Env::CrashBefore(0);
    return crash;
  }());
  auto deleted = env.Delete(id);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  env.WaitIdle();
  auto while_active = env.service().Retry(scaled->operation.id);
  EXPECT_EQ(while_active.status().code(), Code::kOperationInProgress);
  env.StartEngine();
  ASSERT_EQ(env.WaitForOperation(deleted->operation.id).state, "succeeded");
  auto not_latest = env.service().Retry(scaled->operation.id);
  EXPECT_EQ(not_latest.status().code(), Code::kConflict);
  EXPECT_NE(not_latest.status().message().find("latest"), std::string::npos)
      << not_latest.status().message();
  EXPECT_EQ(env.FindOperation(scaled->operation.id)->state, "failed");
}

TEST(CancelRetryTest, RetryOfACancelledChangeFinishesIt) {
  Env env(TestName());
  AddHypervisors(env, {"sim-4", "sim-5"});
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  CancelDuring(env, "promote-master.yml", "master-2");
  auto scaled = env.service().ScaleMasters(id, 5, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  ASSERT_EQ(op.state, "cancelled");
  EXPECT_EQ(ReadyMasters(env, id), 3) << "stopped at the first odd count after the cancel";
  env.bootstrapper().OnRun(nullptr);
  auto retried = env.service().Retry(op.id);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  op = env.WaitForOperation(op.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(ReadyMasters(env, id), 5);
  ExpectConsistentCluster(env, id);
}

// ------------------------------------------------------------------ fault injection

TEST(FaultInjectionTest, TheNthHypervisorCallFailingTransientlyIsRetriedTransparently) {
  Env env(TestName(), /*faulty_fleet=*/true);
  env.StartEngine();
  env.faults().Set({FaultRule{.on = "hypervisor", .match = "ensure_domain", .nth = 2}});
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  ASSERT_EQ(op.steps[2].name, "provision masters");
  EXPECT_EQ(op.steps[2].attempts, 2);
  for (const auto& s : op.steps) {
    if (s.index != 2) EXPECT_EQ(s.attempts, 1) << s.name;
  }
  ExpectHealthyDevCluster(env, created->cluster.id);
  for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
  auto rules = env.faults().Rules();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].fired, 1);
  EXPECT_GE(rules[0].seen, 6) << "every ensure_domain call was seen";
}

TEST(FaultInjectionTest, APermanentHypervisorFaultFailsTheStep) {
  Env env(TestName(), /*faulty_fleet=*/true);
  env.StartEngine();
  env.faults().Set(
      {FaultRule{.on = "hypervisor", .match = "sim-2", .code = "internal", .times = 0}});
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[2].state, "failed");
  EXPECT_EQ(op.steps[2].attempts, 1);
  EXPECT_NE(op.steps[2].message.find("injected fault on hypervisor sim-2"), std::string::npos)
      << op.steps[2].message;
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");
}

TEST(FaultInjectionTest, StepFaultsMatchByNameOrKindAndFireOnTheNthMatch) {
  Env env(TestName());
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  // By kind, second match: join master-2 passes, join master-3 fails.
  env.faults().Set({FaultRule{.match = "join_master", .code = "internal", .nth = 2}});
  auto a = env.Create(Env::DevRequest("by-kind"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  store::Operation op = env.WaitForOperation(a->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[4].name, "join master-2");
  EXPECT_EQ(op.steps[4].state, "succeeded");
  EXPECT_EQ(op.steps[5].name, "join master-3");
  EXPECT_EQ(op.steps[5].state, "failed");
  EXPECT_NE(op.error.find("join master-3"), std::string::npos) << op.error;
  auto rules = env.faults().Rules();
  EXPECT_EQ(rules[0].seen, 2);
  EXPECT_EQ(rules[0].fired, 1);

  // By name: only that step.
  env.faults().Set({FaultRule{.match = "provision workers", .code = "internal"}});
  auto b = env.Create(Env::DevRequest("by-name"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  op = env.WaitForOperation(b->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_EQ(op.steps[6].name, "provision workers");
  EXPECT_EQ(op.steps[6].state, "failed");
  EXPECT_NE(op.steps[6].message.find("injected fault on step provision workers"), std::string::npos)
      << op.steps[6].message;
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(op.steps[i].state, "succeeded") << op.steps[i].name;

  // Transient step faults are retried: twice unavailable, then it passes.
  env.faults().Set({FaultRule{.match = "verify", .times = 2}});
  auto c = env.Create(Env::DevRequest("transient"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  op = env.WaitForOperation(c->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(op.steps.back().attempts, 3);
  EXPECT_EQ(env.faults().Rules()[0].fired, 2);
}

TEST(FaultInjectionTest, DelaysSlowStepsAndHypervisorCallsDown) {
  Env env(TestName(), /*faulty_fleet=*/true);
  EngineOptions o = Env::FastOptions();
  o.hooks = std::make_shared<FaultHooks>(env.faults());
  env.StartEngine(o);
  env.faults().Set({
      FaultRule{.on = "hypervisor",
                .match = "find_domain",
                .action = "delay",
                .times = 0,
                .delay_ms = 40},
      FaultRule{.on = "step", .match = "reserve", .action = "delay", .delay_ms = 150},
  });
  auto started = std::chrono::steady_clock::now();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(op.state, "succeeded") << op.error;
  // verify looks up 6 domains, each 40 ms slower; reserve waits 150 ms before it starts.
  EXPECT_GE(op.steps.back().finished_at - op.steps.back().started_at, 6 * 40);
  EXPECT_GE(took, std::chrono::milliseconds(150 + 6 * 40));
  auto rules = env.faults().Rules();
  EXPECT_EQ(rules[0].fired, 6);
  EXPECT_EQ(rules[1].fired, 1);
  ExpectHealthyDevCluster(env, created->cluster.id);
}

// ------------------------------------------------------------------ events

std::string Summary(const store::Event& e) {
  auto j = nlohmann::json::parse(e.data);
  if (e.kind == "operation") {
    return "operation " + j["state"].get<std::string>() + " " +
           std::to_string(j["progress"].get<int>());
  }
  if (e.kind == "step") {
    return "step " + std::to_string(j["index"].get<int64_t>()) + " " +
           j["state"].get<std::string>();
  }
  if (e.kind == "cluster") return "cluster " + j["status"].get<std::string>();
  return e.kind;
}

TEST(EventsTest, ACreateEmitsOperationStepAndClusterEventsInOrder) {
  Env env(TestName());
  env.StartEngine();
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const std::string id = created->cluster.id;
  store::Operation op = env.WaitForOperation(created->operation.id);
  ASSERT_EQ(op.state, "succeeded") << op.error;
  env.WaitIdle();
  std::vector<store::Event> events;
  ASSERT_TRUE(env.db()
                  .Read([&](store::Tx& tx) {
                    events = store::events::ListForCluster(tx, id, "", 1000);
                    return Status::Ok();
                  })
                  .ok());
  std::vector<std::string> expected = {"operation pending 0", "cluster provisioning",
                                       "operation running 0"};
  const size_t n = op.steps.size();
  for (size_t i = 0; i < n; ++i) {
    expected.push_back("step " + std::to_string(i) + " running");
    expected.push_back("step " + std::to_string(i) + " succeeded");
    expected.push_back("operation running " + std::to_string((i + 1) * 100 / n));
  }
  expected.push_back("operation succeeded 100");
  expected.push_back("cluster running");
  std::vector<std::string> got;
  std::string running;  // the step whose run is printing
  for (const auto& e : events) {
    std::string summary = Summary(e);
    if (e.kind == "log") {  // the lines themselves: EveryLineOfABootstrapRunIsALogEventOfItsStep
      auto j = nlohmann::json::parse(e.data);
      EXPECT_EQ("step " + std::to_string(j["index"].get<int64_t>()) + " running", running)
          << "a log line outside its step";
      continue;
    }
    if (e.kind == "step") running = summary;
    got.push_back(summary);
  }
  EXPECT_EQ(got, expected);
  int64_t at = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.cluster_id, id);
    EXPECT_EQ(e.team_id, kTeamId);
    EXPECT_GE(e.at, at) << "events go back in time";
    at = e.at;
    auto j = nlohmann::json::parse(e.data);
    if (e.kind == "operation" || e.kind == "step") {
      EXPECT_EQ(j["operation"], op.id);
    }
    if (e.kind == "step") {
      EXPECT_EQ(j["name"], op.steps[j["index"].get<size_t>()].name);
      EXPECT_EQ(j["attempts"], 1);
    }
  }
  // A stream resumed after any event sees exactly the rest.
  for (size_t k = 0; k < events.size(); ++k) {
    std::vector<store::Event> rest;
    EXPECT_OK(env.db().Read([&](store::Tx& tx) {
      rest = store::events::ListForCluster(tx, id, events[k].id, 1000);
      return Status::Ok();
    }));
    EXPECT_EQ(rest.size(), events.size() - k - 1) << "after event " << k;
  }
}

// ------------------------------------------------------------------ crash matrix of changes

struct ChangeCrashCase {
  std::string what;
  CreateClusterRequest create;
  std::vector<std::string> extra_hypervisors;
  std::function<Result<Admitted>(ClusterService&, const std::string&)> change;
  size_t steps;
  std::function<void(Env&, const std::string&)> expect;
};

// For every step boundary k of the change: a kaasd that dies right before step k, then a
// restarted one that resumes. The change converges, nothing is done twice, and the cluster
// rests exactly as planned.
void RunChangeCrashMatrix(const ChangeCrashCase& c) {
  for (size_t k = 0; k < c.steps; ++k) {
    SCOPED_TRACE(c.what + ": crash before step " + std::to_string(k));
    Env env(TestName() + "-" + std::to_string(k));
    AddHypervisors(env, c.extra_hypervisors);
    env.StartEngine();
    const std::string id = CreateRunning(env, c.create);
    ASSERT_FALSE(id.empty());
    const auto defines_before = env.fleet().Defines();

    env.StartEngine(Env::CrashBefore(static_cast<int64_t>(k)));
    auto changed = c.change(env.service(), id);
    ASSERT_TRUE(changed.ok()) << changed.status().ToString();
    ASSERT_EQ(changed->operation.steps.size(), c.steps);
    env.WaitIdle();
    auto abandoned = env.FindOperation(changed->operation.id);
    ASSERT_TRUE(abandoned.has_value());
    EXPECT_EQ(abandoned->state, "running");
    for (size_t i = 0; i < c.steps; ++i) {
      EXPECT_EQ(abandoned->steps[i].state, i < k ? "succeeded" : "pending") << "step " << i;
    }
    EXPECT_EQ(env.FindCluster(id)->status, "updating");

    env.StartEngine();
    store::Operation op = env.WaitForOperation(changed->operation.id);
    ExpectAllSucceededOnce(op);
    ExpectConsistentCluster(env, id);
    for (const auto& [domain, n] : env.fleet().Defines()) EXPECT_EQ(n, 1) << domain;
    for (const auto& [domain, n] : env.fleet().Ensures()) EXPECT_EQ(n, 1) << domain;
    for (const auto& [job, n] : JobTargets(env)) {
      EXPECT_EQ(n, 1) << job.first << " ran twice on " << job.second;
    }
    c.expect(env, id);
  }
}

TEST(ChangeCrashTest, ScaleMastersOneToThree) {
  RunChangeCrashMatrix(
      {"1 -> 3",
       Request("personal", 1),
       {},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 3, "alice", false);
       },
       8,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"), Numbered("worker-", {1}));
       }});
}

TEST(ChangeCrashTest, ScaleMastersThreeToFive) {
  RunChangeCrashMatrix(
      {"3 -> 5",
       Request("dev", 1),
       {"sim-4", "sim-5"},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 5, "alice", false);
       },
       8,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3, 4, 5}));
       }});
}

TEST(ChangeCrashTest, ScaleMastersFiveToThree) {
  RunChangeCrashMatrix(
      {"5 -> 3",
       Request("prod", 1),
       {"sim-4", "sim-5"},
       [](ClusterService& s, const std::string& id) {
         return s.ScaleMasters(id, 3, "alice", false);
       },
       7,
       [](Env& env, const std::string& id) {
         EXPECT_EQ(RoleNames(env.LiveNodes(id), "master"), Numbered("master-", {1, 2, 3}));
         auto jobs = JobTargets(env);
         EXPECT_EQ((jobs[{"remove-master.yml", "master-5"}]), 1);
         EXPECT_EQ((jobs[{"remove-master.yml", "master-4"}]), 1);
       }});
}

TEST(ChangeCrashTest, ResizeMasters) {
  RunChangeCrashMatrix({"m.small -> m.medium",
                        Request("dev", 2),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.ResizeMasters(id, "m.medium", "alice", false);
                        },
                        7,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
                          for (const auto& n : env.LiveNodes(id)) {
                            if (n.role != "master") continue;
                            EXPECT_EQ(n.vcpus, 8) << n.name;
                            EXPECT_EQ(env.fleet().Resizes()[DomainName(id, n.name)], 1) << n.name;
                          }
                          EXPECT_EQ(env.fleet().Resizes().size(), 3u)
                              << "only the masters were resized";
                        }});
}

TEST(ChangeCrashTest, Upgrade) {
  RunChangeCrashMatrix({"1.30.8 -> 1.31.4",
                        Request("dev", 3, "w.small", "1.30.8"),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.Upgrade(id, "1.31.4", 2, "alice", false);
                        },
                        9,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->kubernetes_version, "1.31.4");
                          for (const auto& n : env.LiveNodes(id)) {
                            EXPECT_EQ(n.kubernetes_version, "1.31.4") << n.name;
                          }
                          EXPECT_EQ(env.bootstrapper().Runs("upgrade-node.yml").size(), 5u);
                        }});
}

TEST(ChangeCrashTest, ScaleWorkersAcrossFifty) {
  RunChangeCrashMatrix({"workers 50 -> 51",
                        Request("dev", 50, "w.small"),
                        {},
                        [](ClusterService& s, const std::string& id) {
                          return s.ScaleWorkers(id, 51, "alice", false);
                        },
                        9,
                        [](Env& env, const std::string& id) {
                          EXPECT_EQ(env.FindCluster(id)->master_flavor, "m.medium");
                          EXPECT_EQ(RoleNames(env.LiveNodes(id), "worker"),
                                    NumberedRange("worker-", 1, 51));
                        }});
}

// ================================================================== waits and throws

// The real steps, except that the steps of one kind are first answered by `before` (given the
// how-many-th call of that kind, from 1); when it returns nullopt the real step runs.
class InterceptedSteps : public StepRunner {
 public:
  using Before = std::function<std::optional<StepResult>(int call)>;
  InterceptedSteps(StepRunner& inner, std::string kind, Before before)
      : inner_(inner), kind_(std::move(kind)), before_(std::move(before)) {}
  StepResult Run(const store::Operation& op, const store::Step& step,
                 const StepControl& control) override {
    if (step.kind == kind_) {
      if (auto answer = before_(++calls_)) return std::move(*answer);
    }
    return inner_.Run(op, step, control);
  }
  Status Settle(const store::Operation& op) override { return inner_.Settle(op); }
  int calls() const { return calls_; }

 private:
  StepRunner& inner_;
  std::string kind_;
  Before before_;
  std::atomic<int> calls_{0};
};

TEST(StepWaitTest, AWaitThatLaterSucceedsDoesNotUseUpAttempts) {
  Env env(TestName());
  // Verify says "not yet" 3 times as often as a step may fail, then runs.
  const int waits = 3 * Env::FastOptions().max_attempts;
  InterceptedSteps steps(env.steps(), "verify", [&](int call) -> std::optional<StepResult> {
    if (call <= waits) {
      return StepResult::Wait("domain of master-1 is not running", std::chrono::milliseconds(1));
    }
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_EQ(steps.calls(), waits + 1);
  ASSERT_EQ(op.steps.back().kind, "verify");
  EXPECT_EQ(op.steps.back().state, "succeeded");
  EXPECT_EQ(op.steps.back().attempts, 1) << "waiting spent attempts";
  EXPECT_EQ(op.steps.back().message, "6 nodes ready, every domain running");
}

TEST(StepWaitTest, AWaitThatNeverEndsFailsTheStepAfterMaxWaitNamingWhatItWaitedFor) {
  Env env(TestName());
  InterceptedSteps steps(env.steps(), "verify", [](int) -> std::optional<StepResult> {
    return StepResult::Wait("domain of master-1 is not running", std::chrono::milliseconds(1));
  });
  EngineOptions o = Env::FastOptions();
  o.max_wait_ms = 20;
  env.StartEngine(o, &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  EXPECT_NE(op.error.find("still waiting"), std::string::npos) << op.error;
  EXPECT_NE(op.error.find("domain of master-1 is not running"), std::string::npos) << op.error;
  EXPECT_EQ(op.steps.back().state, "failed");
  EXPECT_EQ(op.steps.back().attempts, o.max_attempts);
}

TEST(StepWaitTest, TheHealthGateWaitsForAStoppedMasterWithoutSpendingAttempts) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("personal", 1));
  ASSERT_FALSE(id.empty());
  auto nodes = env.LiveNodes(id);
  auto master = std::find_if(nodes.begin(), nodes.end(),
                             [](const store::Node& n) { return n.name == "master-1"; });
  ASSERT_NE(master, nodes.end());
  const std::string domain = DomainName(id, "master-1");
  env.fleet().StopDomain(master->hypervisor, domain);

  // Start master-1 again once the gate has looked more often than a step may fail.
  const int looks = 3 * Env::FastOptions().max_attempts;
  InterceptedSteps steps(env.steps(), "health_gate", [&](int call) -> std::optional<StepResult> {
    if (call == looks) {
      auto hv = env.fleet().Get(master->hypervisor, "fake://" + master->hypervisor);
      EXPECT_TRUE(hv.ok());
      if (hv.ok()) {
        EXPECT_TRUE((*hv)->EnsureDomainRunning({domain, {id, "master-1", "master"}, 4, 4}).ok());
      }
    }
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto scaled = env.service().ScaleMasters(id, 3, "alice", false);
  ASSERT_TRUE(scaled.ok()) << scaled.status().ToString();
  store::Operation op = env.WaitForOperation(scaled->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  EXPECT_GE(steps.calls(), looks);
  size_t gate = FirstIndexOf(op, "health_gate");
  ASSERT_LT(gate, op.steps.size());
  EXPECT_EQ(op.steps[gate].attempts, 1) << op.steps[gate].message;
  EXPECT_EQ(op.steps[gate].state, "succeeded");
}

TEST(StepThrowTest, AStepThatThrowsFailsThatStepWithAClearMessageAndTheEngineKeepsRunning) {
  Env env(TestName());
  InterceptedSteps steps(env.steps(), "verify", [](int call) -> std::optional<StepResult> {
    if (call == 1) throw std::runtime_error("boom: the disk said no");
    return std::nullopt;
  });
  env.StartEngine(Env::FastOptions(), &steps);
  auto created = env.Create(Env::DevRequest());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "failed");
  const store::Step& verify = op.steps.back();
  EXPECT_EQ(verify.state, "failed");
  EXPECT_EQ(verify.attempts, 1) << "a throw is not retried";
  EXPECT_NE(verify.message.find("threw"), std::string::npos) << verify.message;
  EXPECT_NE(verify.message.find("boom: the disk said no"), std::string::npos) << verify.message;
  EXPECT_NE(op.error.find("verify cluster"), std::string::npos) << op.error;
  EXPECT_EQ(env.FindCluster(created->cluster.id)->status, "error");

  // The engine is still there: a retry of the same operation and a new cluster both run.
  EXPECT_TRUE(env.engine().running());
  ASSERT_TRUE(env.service().Retry(op.id).ok());
  EXPECT_EQ(env.WaitForOperation(op.id).state, "succeeded");
  auto second = env.Create(Env::DevRequest("billing-two"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(env.WaitForOperation(second->operation.id).state, "succeeded");
}

}  // namespace
}  // namespace kaas::lifecycle
