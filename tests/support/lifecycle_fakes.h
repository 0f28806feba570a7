#pragma once

// The lifecycle test suites' shared pieces: stateful fakes of the hypervisor fleet and the
// bootstrapper, engine hooks and step interceptors, and Env — one kaasd "installation" over a
// SQLite database — with the checks the suites share.

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
#include "kaas/lifecycle/engine.h"
#include "kaas/lifecycle/engine_hooks.h"
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
#include "status_testing.h"

namespace kaas::lifecycle::test_support {

using provisioner::DomainInfo;
using provisioner::DomainName;
using provisioner::DomainSpec;

inline constexpr const char* kTeamId = "tm-1";
inline constexpr auto kDeadline = std::chrono::seconds(10);

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

    Status PowerOff(const std::string& domain_name) override {
      std::lock_guard lock(fleet_.mu_);
      auto it = fleet_.domains_[name_].find(domain_name);
      if (it == fleet_.domains_[name_].end()) return NotFound("domain " + domain_name);
      it->second.running = false;
      return Status::Ok();
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

  // Gives a domain the forwarded ports a real VM has in its metadata.
  void SetPorts(const std::string& domain_name, int ssh_port, int etcd_client_port) {
    std::lock_guard lock(mu_);
    for (auto& [hv, domains] : domains_) {
      if (auto it = domains.find(domain_name); it != domains.end()) {
        it->second.ssh_port = ssh_port;
        it->second.etcd_client_port = etcd_client_port;
      }
    }
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
  // etcd as the fake keeps it: every voter and learner of the job a healthy member — unless a
  // test answers instead (AnswerEtcd: it gets that view and returns what etcd says).
  Result<provisioner::EtcdView> AskEtcd(const provisioner::BootstrapJob& job) override {
    provisioner::EtcdView view{job.targets.at(0), {}};
    for (const auto& n : job.nodes) {
      if (!n.etcd_voter && !n.etcd_learner) continue;
      view.members.push_back({n.name, "https://" + n.name + ":2380", "https://" + n.name + ":2379",
                              !n.etcd_voter, true, ""});
    }
    EtcdAnswer answer;
    {
      std::lock_guard lock(mu_);
      questions_.push_back(job);
      answer = answer_;
    }
    if (job.cancel && job.cancel->load()) {
      return Status(Code::kCancelled, "asking etcd was stopped by a cancel");
    }
    return answer ? answer(view) : view;
  }
  using EtcdAnswer = std::function<Result<provisioner::EtcdView>(provisioner::EtcdView)>;
  void AnswerEtcd(EtcdAnswer answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  // Every job etcd was asked with, in order.
  std::vector<provisioner::BootstrapJob> EtcdQuestions() const {
    std::lock_guard lock(mu_);
    return questions_;
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
  EtcdAnswer answer_;
  std::vector<provisioner::BootstrapJob> questions_;
};

// Engine hooks from a function, for the crash tests: `before_step(op_id, step_index)` returning
// false abandons the operation right there, as a kill -9 just before that step would.
class BeforeStepHooks : public EngineHooks {
 public:
  using Fn = std::function<bool(const std::string& op_id, int64_t step_index)>;
  explicit BeforeStepHooks(Fn before_step) : before_step_(std::move(before_step)) {}
  StepEntry BeforeStep(const store::Operation& op, const store::Step& step) override {
    return StepEntry{.abandon = !before_step_(op.id, step.index)};
  }

 private:
  Fn before_step_;
};

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
  Status Settle(const store::Operation& op, const StepControl& control) override {
    return inner_.Settle(op, control);
  }
  int calls() const { return calls_; }

 private:
  StepRunner& inner_;
  std::string kind_;
  Before before_;
  std::atomic<int> calls_{0};
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

// ------------------------------------------------------------------ shared checks

std::string TestName();

std::set<std::string> Names(const std::vector<store::Node>& nodes);

// The dev cluster's nodes (DevRequest) and their domains.
extern const std::set<std::string> kDevNodes;
std::set<std::string> DomainsOf(const std::string& cluster_id);

std::set<std::string> Keys(const std::map<std::string, std::string>& m);

// What a user checks after a successful create of the dev cluster: it is running, with exactly
// the planned nodes, all ready, masters apart, and exactly one running domain per VM node.
void ExpectHealthyDevCluster(Env& env, const std::string& cluster_id);

// The issue_pki step's row for `cluster_name`: three CAs whose certificates name the cluster and
// whose private keys are sealed (never PEM in the database), open with the installation's
// SecretBox, and belong to their certificates (a CA signs a client certificate with its key only
// when the key matches and the certificate is a CA).
void ExpectSealedPki(Env& env, const std::string& cluster_id, const std::string& cluster_name);

void ExpectSameSecrets(const store::ClusterSecrets& a, const store::ClusterSecrets& b);

// More hypervisors, for clusters of 5 masters kept apart.
void AddHypervisors(Env& env, const std::vector<std::string>& names);

void SetQuotaAndHosts(Env& env, store::QuotaLimits limits, int hosts);

std::vector<store::Host> Hosts(Env& env);

std::vector<store::Operation> OperationsOf(Env& env, const std::string& cluster_id);

std::set<std::string> RoleNames(const std::vector<store::Node>& nodes, const std::string& role);

std::set<std::string> Numbered(const std::string& prefix, std::initializer_list<int> numbers);

std::set<std::string> NumberedRange(const std::string& prefix, int from, int to);

// Creates a cluster with the normal engine and waits until it runs.
std::string CreateRunning(Env& env, const CreateClusterRequest& r);

CreateClusterRequest Request(const std::string& purpose, int64_t workers,
                             const std::string& worker_flavor = "w.medium",
                             const std::string& version = "");

// What must hold whenever a cluster rests after an operation (the only cluster of `env`): every
// node ready, an odd number of masters of one flavor, the cluster record describing its live
// nodes, exactly one running domain of the node's size per VM node (and no other domain), one
// allocated host per physical node, and quota usage equal to what the live nodes hold.
void ExpectConsistentCluster(Env& env, const std::string& cluster_id);

std::vector<std::string> Kinds(const store::Operation& op);

size_t FirstIndexOf(const store::Operation& op, const std::string& kind);

size_t LastIndexOf(const store::Operation& op, const std::string& kind);

void ExpectAllSucceededOnce(const store::Operation& op);

// (playbook, target) -> runs, over every completed bootstrap job.
std::map<std::pair<std::string, std::string>, int> JobTargets(Env& env);

}  // namespace kaas::lifecycle::test_support
