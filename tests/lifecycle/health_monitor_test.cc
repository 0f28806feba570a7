// The health monitor on real machines (issue 13, DESIGN.md §6.3): besides its domain, a real VM
// is judged by whether its sshd answers and, on a master, whether its etcd answers, at the ports
// its domain forwards; every machine is asked at once, one call per kind of probe per sweep.
#include "kaas/lifecycle/health_monitor.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/engine.h"
#include "lifecycle_fakes.h"

namespace kaas::lifecycle {
namespace {

using namespace test_support;  // NOLINT: the suites' shared fakes and checks

// A probe that answers for every address but the ones in `dead`, and records what it was asked.
struct FakeProbe {
  std::set<std::string> dead;
  std::vector<std::vector<std::string>> calls;
  Probe Fn() {
    return [this](const std::vector<std::string>& addresses) {
      calls.push_back(addresses);
      std::vector<bool> up;
      for (const auto& a : addresses) up.push_back(!dead.count(a));
      return up;
    };
  }
};

std::map<std::string, store::Node> NodesByName(Env& env, const std::string& cluster_id) {
  std::map<std::string, store::Node> out;
  for (auto& n : env.LiveNodes(cluster_id)) out[n.name] = n;
  return out;
}

TEST(HealthMonitorTest, ARealVmIsAskedBySshAndAMasterAlsoByEtcdAllAtOnce) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 2, "w.medium"));
  ASSERT_FALSE(id.empty());
  // The domains as real VMs have them: forwarded SSH ports, and etcd's on masters.
  std::map<std::string, int> ssh_port;
  int next = 40000;
  for (const auto& [name, n] : NodesByName(env, id)) {
    ssh_port[name] = next;
    env.fleet().SetPorts(DomainName(id, name), next, n.role == "master" ? next + 1 : 0);
    next += 10;
  }
  ASSERT_EQ(ssh_port.size(), 5u);  // 3 masters, 2 workers
  auto at = [](int port) { return "127.0.0.1:" + std::to_string(port); };

  FakeProbe ssh, etcd;
  ssh.dead = {at(ssh_port["worker-1"])};       // the guest hangs: QEMU runs, sshd is silent
  etcd.dead = {at(ssh_port["master-2"] + 1)};  // the machine answers, its etcd does not
  HealthOptions options;
  options.grace_ms = 3'600'000;  // watch only: no repair within this test
  HealthMonitor monitor(env.db(), env.fleet(), env.service(), Env::Clock(), options, nullptr,
                        MachineProbes{ssh.Fn(), etcd.Fn()});
  auto report = monitor.Sweep();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->nodes, 5);
  EXPECT_EQ(report->unhealthy, 2);
  EXPECT_TRUE(report->repairs.empty());

  // One call per kind of probe, every machine in it.
  ASSERT_EQ(ssh.calls.size(), 1u);
  EXPECT_EQ(std::set<std::string>(ssh.calls[0].begin(), ssh.calls[0].end()).size(), 5u);
  ASSERT_EQ(etcd.calls.size(), 1u);
  std::set<std::string> asked_etcd(etcd.calls[0].begin(), etcd.calls[0].end());
  EXPECT_EQ(asked_etcd,
            (std::set<std::string>{at(ssh_port["master-1"] + 1), at(ssh_port["master-2"] + 1),
                                   at(ssh_port["master-3"] + 1)}));

  auto nodes = NodesByName(env, id);
  EXPECT_EQ(nodes["worker-1"].health, "unhealthy");
  EXPECT_EQ(nodes["worker-1"].health_reason,
            "its VM runs but its SSH does not answer on " + at(ssh_port["worker-1"]));
  EXPECT_GT(nodes["worker-1"].unhealthy_since, 0);
  EXPECT_EQ(nodes["master-2"].health, "unhealthy");
  EXPECT_EQ(nodes["master-2"].health_reason,
            "its etcd does not answer on " + at(ssh_port["master-2"] + 1));
  for (const char* ok : {"master-1", "master-3", "worker-2"}) {
    EXPECT_EQ(nodes[ok].health, "healthy") << ok << ": " << nodes[ok].health_reason;
  }

  // A stopped VM is judged by its domain; its machine is not asked.
  env.fleet().StopDomain(nodes["worker-2"].hypervisor, DomainName(id, "worker-2"));
  etcd.dead.clear();
  ssh.dead.clear();
  report = monitor.Sweep();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(ssh.calls.size(), 2u);
  EXPECT_EQ(ssh.calls[1].size(), 4u);
  nodes = NodesByName(env, id);
  EXPECT_EQ(nodes["worker-2"].health_reason,
            "its VM is not running on " + nodes["worker-2"].hypervisor);
  for (const char* ok : {"master-1", "master-2", "master-3", "worker-1"}) {
    EXPECT_EQ(nodes[ok].health, "healthy") << ok << ": " << nodes[ok].health_reason;
  }
}

// Without probes (the simulated bootstrapper) a VM's running domain is all there is to see.
TEST(HealthMonitorTest, WithoutProbesARunningDomainIsHealthy) {
  Env env(TestName());
  env.StartEngine();
  const std::string id = CreateRunning(env, Request("dev", 1, "w.medium"));
  ASSERT_FALSE(id.empty());
  for (const auto& [name, n] : NodesByName(env, id))
    env.fleet().SetPorts(DomainName(id, name), 1, 2);
  HealthMonitor monitor(env.db(), env.fleet(), env.service(), Env::Clock(), HealthOptions{});
  auto report = monitor.Sweep();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->unhealthy, 0);
  for (const auto& [name, n] : NodesByName(env, id)) EXPECT_EQ(n.health, "healthy") << name;
}

}  // namespace
}  // namespace kaas::lifecycle
