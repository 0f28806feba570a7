// The engine running create and delete: steps, crashes and resumes, PKI, quota and capacity at
// admission, failures and retries of steps.
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

using namespace test_support;  // NOLINT: the suites' shared fakes and checks

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
      EXPECT_EQ(job.files,
                (std::map<std::string, std::string>{{"kubernetes/ca.crt", secrets->ca_cert}}));
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

}  // namespace
}  // namespace kaas::lifecycle
