#include "kaas/provisioner/bootstrapper.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kaas/common/strings.h"
#include "kaas/provisioner/ansible_bootstrapper.h"
#include "kaas/provisioner/kubernetes_config.h"
#include "kaas/provisioner/simulated_bootstrapper.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {
namespace {

// A fresh work folder per test and a job for a small cluster (master-1 a voting etcd
// member, master-2 joining, worker-1).
class JobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kaas-bootstrap-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  BootstrapJob Job(const std::string& playbook) const {
    BootstrapJob job;
    job.playbook = playbook;
    job.cluster_id = "cl-1";
    job.cluster_name = "billing";
    job.team_name = "payments";
    job.kubernetes_version = "1.37.2";
    // Host keys known for every node: a real run reads a missing one from the machine, and
    // these addresses must never be contacted.
    job.nodes = {{"master-1", "master", "10.0.0.1", true, false, kHostKey1},
                 {"master-2", "master", "10.0.0.3", false, false, kHostKey2},
                 {"worker-1", "worker", "10.0.0.2", false, false, kHostKey3}};
    job.targets = {"worker-1"};
    job.work_dir = dir_ / "work";
    job.files = {{"kubernetes/ca.crt", kCaPem}};  // what lifecycle stages for every join
    return job;
  }
  static constexpr char kHostKey1[] =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1c3Rlci1tYXN0ZXItMS1ob3N0LWtleS0xMjM0";
  static constexpr char kHostKey2[] =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1hc3Rlci0yLWhvc3Qta2V5LTAwMDAwMDAwMDAw";
  static constexpr char kHostKey3[] =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdvcmtlci0xLWhvc3Qta2V5LTAwMDAwMDAwMDAw";
  static constexpr char kCaPem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::filesystem::path dir_;
};

// The simulated bootstrapper with a syntax check that already passed for the shipped
// playbooks (the real check runs ansible-playbook; process_test covers it).
class SimulatedBootstrapperTest : public JobTest {
 protected:
  void SetUp() override {
    JobTest::SetUp();
    std::promise<SyntaxCheck> checked;
    checked.set_value({Status::Ok(), {"join-master.yml", "upgrade-node.yml"}});
    syntax_ = checked.get_future().share();
  }

  templates::Renderer renderer_{std::string(KAAS_SOURCE_DIR) + "/templates"};
  std::shared_future<SyntaxCheck> syntax_;
};

TEST_F(SimulatedBootstrapperTest, StagedFilesAreOwnerOnlyAndGoneWithTheGuard) {
  BootstrapJob job = Job("join-master.yml");
  job.files = {{"etcd/ca.crt", "CA"}, {"etcd/master-1.key", "KEY"}};
  std::filesystem::path dir;
  {
    auto staged = StageFiles(job);
    ASSERT_TRUE(staged.ok()) << staged.status().ToString();
    dir = (*staged)->dir();
    EXPECT_EQ(dir, std::filesystem::absolute(job.work_dir / "files"));
    std::ifstream key(dir / "etcd/master-1.key");
    std::string text((std::istreambuf_iterator<char>(key)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "KEY");
    auto perms = std::filesystem::status(dir / "etcd/master-1.key").permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_EQ(std::filesystem::status(dir).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_all);
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << "private keys outlived the run";
}

TEST_F(SimulatedBootstrapperTest, StagedFilesCannotLeaveTheirFolder) {
  for (const char* bad : {"../escape", "/etc/passwd", "etcd/../../escape"}) {
    BootstrapJob job = Job("join-master.yml");
    job.files = {{bad, "x"}};
    auto staged = StageFiles(job);
    EXPECT_EQ(staged.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape"));
}

TEST_F(SimulatedBootstrapperTest, ExtraVarsGoIntoTheInventory) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  BootstrapJob job = Job("upgrade-node.yml");
  job.extra_vars = {{"max_unavailable", "2"}};
  auto r = b.Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->find("nothing was executed on a real machine"), std::string::npos) << *r;
  YAML::Node inventory = YAML::LoadFile((job.work_dir / "inventory.yml").string());
  YAML::Node vars = inventory["all"]["vars"];
  EXPECT_EQ(vars["max_unavailable"].as<std::string>(), "2");
  EXPECT_EQ(vars["kubernetes_version"].as<std::string>(), "1.37.2");
  EXPECT_EQ(vars["cluster_id"].as<std::string>(), "cl-1");
  // The playbooks copy kubeadm/kubelet/kubectl of the job's version from kaasd's mirror.
  EXPECT_EQ(vars["kubernetes_binaries_dir"].as<std::string>(),
            "/var/cache/kaas/kubernetes/v1.37.2");
  EXPECT_EQ(inventory["all"]["children"]["workers"]["hosts"]["worker-1"]["ansible_host"]
                .as<std::string>(),
            "10.0.0.2");
  EXPECT_TRUE(std::filesystem::exists(job.work_dir / "worker-1.user-data"));
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The first master's kubeadm init: external etcd on the masters that run it, kaas's own CAs
// (in /etc/kubernetes/pki), the first voting master's API as the control-plane endpoint.
TEST_F(SimulatedBootstrapperTest, TheFirstMasterGetsAKubeadmInitConfiguration) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  BootstrapJob job = Job("bootstrap-master.yml");
  job.nodes = {{"master-1", "master", "10.0.0.1", false}, {"worker-1", "worker", "10.0.0.2"}};
  job.targets = {"master-1"};
  std::promise<SyntaxCheck> checked;
  checked.set_value({Status::Ok(), {"bootstrap-master.yml"}});
  SimulatedBootstrapper sim(renderer_, checked.get_future().share(), 0);
  auto r = sim.Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<YAML::Node> docs = YAML::LoadAll(ReadFile(job.work_dir / "kubeadm-master-1.yaml"));
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "InitConfiguration");
  EXPECT_EQ(docs[0]["nodeRegistration"]["name"].as<std::string>(), "master-1");
  EXPECT_EQ(docs[0]["localAPIEndpoint"]["advertiseAddress"].as<std::string>(), "10.0.0.1");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "ClusterConfiguration");
  EXPECT_EQ(docs[1]["kubernetesVersion"].as<std::string>(), "v1.37.2");
  EXPECT_EQ(docs[1]["controlPlaneEndpoint"].as<std::string>(), "10.0.0.1:6443");
  YAML::Node etcd = docs[1]["etcd"]["external"];
  ASSERT_EQ(etcd["endpoints"].size(), 1u);
  EXPECT_EQ(etcd["endpoints"][0].as<std::string>(), "https://10.0.0.1:2379");
  EXPECT_EQ(etcd["certFile"].as<std::string>(), "/etc/kubernetes/pki/apiserver-etcd-client.crt");
  EXPECT_FALSE(std::filesystem::exists(job.work_dir / "kubeadm-worker-1.yaml"));
  // The team's groups, as kaas's kubeconfigs carry them, bound in the cluster's RBAC.
  std::map<std::string, std::string> bound;  // group -> ClusterRole
  for (const YAML::Node& d : YAML::LoadAll(ReadFile(job.work_dir / "kubeadm-rbac.yaml"))) {
    if (d["kind"].as<std::string>() != "ClusterRoleBinding") continue;
    bound[d["subjects"][0]["name"].as<std::string>() + " " +
          d["roleRef"]["name"].as<std::string>()] = d["metadata"]["name"].as<std::string>();
  }
  for (const auto& group : KubernetesGroups("payments", ClusterAccess::kAdmin)) {
    EXPECT_TRUE(bound.contains(group + (group == "payments" ? " view" : " cluster-admin")))
        << group;
  }
  EXPECT_TRUE(bound.contains("payments:edit edit"));
  EXPECT_TRUE(bound.contains("payments kaas:node-reader"));
  EXPECT_EQ(bound.size(), 4u);
}

// A worker's and a further master's kubeadm join: file discovery with the cluster's CA (nothing
// trusted on first use), a fresh bootstrap token per run, controlPlane only for a master.
TEST_F(SimulatedBootstrapperTest, JoiningNodesGetAJoinConfigurationAndDiscovery) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  BootstrapJob job = Job("join-master.yml");
  job.targets = {"master-2"};
  ASSERT_TRUE(b.Run(job).ok());
  YAML::Node join = YAML::Load(ReadFile(job.work_dir / "kubeadm-master-2.yaml"));
  EXPECT_EQ(join["kind"].as<std::string>(), "JoinConfiguration");
  EXPECT_EQ(join["nodeRegistration"]["name"].as<std::string>(), "master-2");
  EXPECT_EQ(join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"].as<std::string>(),
            "10.0.0.3");
  const std::string token = join["discovery"]["tlsBootstrapToken"].as<std::string>();
  EXPECT_EQ(token.size(), 23u);
  EXPECT_EQ(token[6], '.');
  YAML::Node discovery = YAML::Load(ReadFile(job.work_dir / "kubeadm-discovery.conf"));
  YAML::Node cluster = discovery["clusters"][0]["cluster"];
  EXPECT_EQ(cluster["server"].as<std::string>(), "https://10.0.0.1:6443");  // the voter's API
  EXPECT_EQ(
      cluster["certificate-authority-data"].as<std::string>(),
      YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(kCaPem), std::strlen(kCaPem)));

  BootstrapJob again = Job("join-master.yml");
  again.targets = {"master-2"};
  ASSERT_TRUE(b.Run(again).ok());
  EXPECT_NE(
      YAML::Load(ReadFile(job.work_dir / "kubeadm-master-2.yaml"))["discovery"]["tlsBootstrapToken"]
          .as<std::string>(),
      token)
      << "a bootstrap token was reused";

  std::promise<SyntaxCheck> checked;
  checked.set_value({Status::Ok(), {"join-worker.yml"}});
  SimulatedBootstrapper workers(renderer_, checked.get_future().share(), 0);
  BootstrapJob worker = Job("join-worker.yml");
  ASSERT_TRUE(workers.Run(worker).ok());
  YAML::Node w = YAML::Load(ReadFile(worker.work_dir / "kubeadm-worker-1.yaml"));
  EXPECT_EQ(w["nodeRegistration"]["name"].as<std::string>(), "worker-1");
  EXPECT_FALSE(w["controlPlane"].IsDefined()) << "a worker was made a control-plane node";
}

TEST_F(SimulatedBootstrapperTest, AJoinWithoutTheClusterCaIsRefused) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  BootstrapJob job = Job("join-master.yml");
  job.files.clear();
  auto r = b.Run(job);
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("Kubernetes CA"), std::string::npos);
}

TEST_F(SimulatedBootstrapperTest, UnknownPlaybookIsFailedPrecondition) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  auto r = b.Run(Job("no-such.yml"));
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no-such.yml"), std::string::npos);
}

TEST_F(SimulatedBootstrapperTest, AJobCancelledBeforeItRunsDoesNothing) {
  SimulatedBootstrapper b(renderer_, syntax_, 0);
  std::atomic<bool> cancel{true};
  BootstrapJob job = Job("join-master.yml");
  job.cancel = &cancel;
  auto r = b.Run(job);
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  EXPECT_NE(r.status().message().find("join-master.yml"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(job.work_dir)) << "a cancelled run rendered files";
}

TEST_F(SimulatedBootstrapperTest, ACancelStopsARunningJobPromptly) {
  SimulatedBootstrapper b(renderer_, syntax_, 5000);
  std::atomic<bool> cancel{false};
  BootstrapJob job = Job("join-master.yml");
  job.cancel = &cancel;
  auto started = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  auto r = b.Run(job);
  canceller.join();
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
      << "the run went on after the cancel";
}

TEST_F(SimulatedBootstrapperTest, WithoutACancelFlagTheRunCompletes) {
  SimulatedBootstrapper b(renderer_, syntax_, 30);
  auto r = b.Run(Job("join-master.yml"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace kaas::provisioner

namespace kaas::provisioner {
namespace {

// The real runner with the real ansible-playbook, on plays that use the local connection:
// inventory, job files, KAAS-NOTE lines and the exit status, without a machine to SSH into.
class AnsibleBootstrapperTest : public JobTest {
 protected:
  void SetUp() override {
    JobTest::SetUp();
    std::filesystem::create_directories(dir_ / "playbooks");
  }

  void Playbook(const std::string& name, const std::string& tasks) {
    std::ofstream(dir_ / "playbooks" / name)
        << "- hosts: \"{{ target_node }}\"\n  connection: local\n  gather_facts: false\n"
        << "  tasks:\n"
        << tasks;
  }
  // Every node on this machine (the plays use the local connection anyway).
  class Loopback : public NodeResolver {
   public:
    Result<NodeAccess> Resolve(const std::string&, const BootstrapNode& node) override {
      NodeAccess a{"127.0.0.1", 22, 0, 0};
      a.host_key = node.host_key;
      return a;
    }
  };
  AnsibleBootstrapper Runner() {
    AnsibleOptions options;
    options.playbooks_dir = dir_ / "playbooks";
    options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
    options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
    options.timeout_seconds = 120;
    return AnsibleBootstrapper(options, loopback_);
  }
  Loopback loopback_;
  BootstrapJob Job(const std::string& playbook) const {
    BootstrapJob job = JobTest::Job(playbook);
    job.targets = {"master-2"};
    return job;
  }
};

TEST_F(AnsibleBootstrapperTest, PlaysSeeTheVotersAndTheJobFilesWhichAreGoneAfterwards) {
  Playbook("look.yml",
           "    - ansible.builtin.debug:\n"
           "        msg: \"KAAS-NOTE: voters={{ groups['etcd_voters'] | join(',') }} "
           "ca={{ lookup('file', kaas_files_dir + '/etcd/ca.crt') }}\"\n");
  BootstrapJob job = Job("look.yml");
  job.files = {{"etcd/ca.crt", "the-etcd-ca"}};
  std::mutex mu;
  std::vector<std::string> lines;
  job.on_output = [&](const std::string& line) {
    std::lock_guard lock(mu);
    lines.push_back(line);
  };
  auto r = Runner().Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->find("ran on master-2"), std::string::npos) << *r;
  EXPECT_NE(r->find("failed=0"), std::string::npos) << *r;
  EXPECT_NE(r->find("voters=master-1 ca=the-etcd-ca"), std::string::npos) << *r;
  EXPECT_FALSE(std::filesystem::exists(job.work_dir / "files")) << "job files outlived the run";
  EXPECT_TRUE(std::filesystem::exists(job.work_dir / "ansible.log"));
  // Every non-empty line went to on_output, the play's banner and recap included.
  std::lock_guard lock(mu);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().rfind("PLAY [", 0), 0u) << lines.front();
  EXPECT_NE(std::find_if(lines.begin(), lines.end(),
                         [](const std::string& l) { return l.rfind("PLAY RECAP", 0) == 0; }),
            lines.end());
  for (const auto& l : lines) EXPECT_FALSE(l.empty());
}

// The rules that put a VM's cluster peers on the cluster's private network
// (tasks/cluster-network.yml renders files/cluster-net.rules.j2): every VM of the cluster, this
// one too, as the others address it (10.0.2.2:<forwarded port>) mapped onto its segment
// address; a physical worker has none and is left out. The shipped template, rendered by the
// real ansible-playbook, and read by the real iptables-restore (--test).
TEST_F(AnsibleBootstrapperTest, ClusterNetworkRulesMapEveryVmOfTheClusterOntoItsSegment) {
  class Vms : public NodeResolver {
   public:
    Result<NodeAccess> Resolve(const std::string& cluster_id, const BootstrapNode& node) override {
      if (node.role != "master") return addresses_.Resolve(cluster_id, node);
      const int base = node.name == "master-1" ? 40000 : 40010;
      NodeAccess a{"127.0.0.1", base, base + 1, base + 2, base + 3};
      a.host_key = node.host_key;
      a.segment_ip = node.name == "master-1" ? "10.200.156.64" : "10.200.156.74";
      return a;
    }

   private:
    AddressResolver addresses_;
  } vms;
  const std::string rules = (dir_ / "rules-").string();
  Playbook("net.yml",
           "    - ansible.builtin.copy:\n"
           "        content: \"{{ lookup('ansible.builtin.template', '" KAAS_SOURCE_DIR
           "/templates/ansible/files/cluster-net.rules.j2') }}\"\n"
           "        dest: \"" +
               rules +
               "{{ inventory_hostname }}\"\n"
               "      when: kaas_segment_ip is defined\n");
  AnsibleOptions options;
  options.playbooks_dir = dir_ / "playbooks";
  options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
  options.timeout_seconds = 120;
  BootstrapJob job = Job("net.yml");
  job.targets = {"master-2", "worker-1"};
  auto r = AnsibleBootstrapper(options, vms).Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(rules + "worker-1")) << "a physical host got VM rules";
  std::ifstream in(rules + "master-2");
  const std::string got(std::istreambuf_iterator<char>(in), {});
  std::string body;  // without the comment lines
  for (const std::string& line : Split(got, '\n')) {
    if (!line.empty() && line[0] != '#') body += line + "\n";
  }
  EXPECT_EQ(body,
            "*nat\n"
            ":KAAS-PEERS - [0:0]\n:KAAS-PEERS-IN - [0:0]\n:KAAS-PEERS-SRC - [0:0]\n"
            "-A KAAS-PEERS -p tcp --dport 40000 -j DNAT --to-destination 10.200.156.64:22\n"
            "-A KAAS-PEERS -p tcp --dport 40001 -j DNAT --to-destination 10.200.156.64:2379\n"
            "-A KAAS-PEERS -p tcp --dport 40002 -j DNAT --to-destination 10.200.156.64:2380\n"
            "-A KAAS-PEERS -p tcp --dport 40003 -j DNAT --to-destination 10.200.156.64:6443\n"
            "-A KAAS-PEERS -p tcp --dport 40010 -j DNAT --to-destination 10.200.156.74:22\n"
            "-A KAAS-PEERS -p tcp --dport 40011 -j DNAT --to-destination 10.200.156.74:2379\n"
            "-A KAAS-PEERS -p tcp --dport 40012 -j DNAT --to-destination 10.200.156.74:2380\n"
            "-A KAAS-PEERS -p tcp --dport 40013 -j DNAT --to-destination 10.200.156.74:6443\n"
            "-A KAAS-PEERS-IN -j SNAT --to-source 10.0.2.2\n"
            "-A KAAS-PEERS-SRC -j SNAT --to-source 10.200.156.74\n"
            "COMMIT\n")
      << got;
  // In a network namespace of its own (unshare -rn): no root needed, this machine's firewall
  // untouched. iptables comes with install-deps.sh.
  EXPECT_EQ(std::system(("unshare -rn iptables-restore --test " + rules + "master-2").c_str()), 0)
      << got;
}

// A value such as {{lookup('pipe','id')}} reaches Ansible as text: were it evaluated as Jinja,
// `id` would run on this machine and its "uid=" would be printed. A host address like it is
// not even an address: refused before anything runs (POST /hosts refuses it too).
TEST_F(AnsibleBootstrapperTest, InventoryValuesAreNeverEvaluatedAsJinja) {
  Playbook("look.yml",
           "    - ansible.builtin.debug:\n"
           "        msg: \"KAAS-NOTE: host={{ ansible_host }} "
           "name={{ cluster_name }} extra={{ note }}\"\n");
  const std::string jinja = "{{lookup('pipe','id')}}";
  AddressResolver addresses;
  AnsibleOptions options;
  options.playbooks_dir = dir_ / "playbooks";
  options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
  options.timeout_seconds = 120;

  BootstrapJob job = Job("look.yml");
  job.nodes[1].address = jinja;  // master-2, the target: a physical host's registered address
  auto refused = AnsibleBootstrapper(options, addresses).Run(job);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(refused.status().field(), "address") << refused.status().ToString();

  job = Job("look.yml");
  job.cluster_name = jinja;
  job.extra_vars = {{"note", jinja}};
  auto r = AnsibleBootstrapper(options, addresses).Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->find("uid="), std::string::npos) << "the lookup ran: " << *r;
  EXPECT_NE(r->find(" name=" + jinja + " extra=" + jinja), std::string::npos) << *r;
}

// SSH checks every node's host key strictly against the keys kaas knows (DESIGN.md §6.1): the
// run's known_hosts holds each node's key at the address Ansible uses, and a target whose key
// is not known and cannot be read is refused before ansible-playbook starts.
TEST_F(AnsibleBootstrapperTest, HostKeysAreKnownBeforeTheFirstConnectionAndCheckedStrictly) {
  Playbook("look.yml", "    - ansible.builtin.debug:\n        msg: \"KAAS-NOTE: ran\"\n");
  AddressResolver addresses;
  AnsibleOptions options;
  options.playbooks_dir = dir_ / "playbooks";
  options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
  options.timeout_seconds = 120;
  BootstrapJob job = Job("look.yml");
  job.nodes[2].address = "10.0.0.2:2222";  // a physical worker with its own SSH port
  auto r = AnsibleBootstrapper(options, addresses).Run(job);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto read = [&](const char* name) {
    std::ifstream in(job.work_dir / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read("known_hosts"), std::string("10.0.0.1 ") + kHostKey1 + "\n10.0.0.3 " + kHostKey2 +
                                     "\n[10.0.0.2]:2222 " + kHostKey3 + "\n");
  const std::string cfg = read("ansible.cfg");
  EXPECT_NE(cfg.find("host_key_checking = True"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("-o StrictHostKeyChecking=yes"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("-o ServerAliveInterval=15 -o ServerAliveCountMax=4"), std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("-o UserKnownHostsFile=" +
                     (std::filesystem::absolute(job.work_dir) / "known_hosts").string()),
            std::string::npos)
      << cfg;

  // The target's key is not known and nothing answers where it should be: refused, nothing
  // pinned, the playbook never ran.
  job = Job("look.yml");
  job.nodes[1].host_key.clear();
  job.nodes[1].address = "127.0.0.1:1";
  int pins = 0;
  job.pin_host_key = [&](const std::string&, const std::string&) -> Result<bool> {
    ++pins;
    return true;
  };
  job.work_dir = dir_ / "work2";
  auto refused = AnsibleBootstrapper(options, addresses).Run(job);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("SSH host key of master-2"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(pins, 0);
  EXPECT_FALSE(std::filesystem::exists(job.work_dir / "ansible.log"));
}

// The simulation writes the very inventory a real run writes for the same job.
TEST_F(AnsibleBootstrapperTest, SimulatedAndRealRunsWriteTheSameInventory) {
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  Playbook("join-master.yml", "    - ansible.builtin.debug:\n        msg: hello\n");
  BootstrapJob job = Job("join-master.yml");
  job.nodes[2].address = "10.0.0.2:2222";  // a physical worker with its own SSH port
  job.extra_vars = {{"max_unavailable", "2"}};
  InventoryOptions inventory;
  inventory.ssh_private_key = "/keys/id_ed25519";

  std::promise<SyntaxCheck> checked;
  checked.set_value({Status::Ok(), {"join-master.yml"}});
  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  SimulatedBootstrapper simulated(renderer, checked.get_future().share(), 0, inventory);
  auto sim = simulated.Run(job);
  ASSERT_TRUE(sim.ok()) << sim.status().ToString();
  const std::string simulated_inventory = read(job.work_dir / "inventory.yml");

  AddressResolver addresses;
  AnsibleOptions options;
  options.playbooks_dir = dir_ / "playbooks";
  options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
  options.inventory = inventory;
  options.timeout_seconds = 120;
  auto real = AnsibleBootstrapper(options, addresses).Run(job);
  ASSERT_TRUE(real.ok()) << real.status().ToString();
  EXPECT_EQ(read(job.work_dir / "inventory.yml"), simulated_inventory);

  YAML::Node all = YAML::Load(simulated_inventory)["all"];
  EXPECT_EQ(all["vars"]["ansible_ssh_private_key_file"].as<std::string>(), "/keys/id_ed25519");
  EXPECT_EQ(all["vars"]["target_node"].as<std::string>(), "master-2");
  YAML::Node w1 = all["children"]["workers"]["hosts"]["worker-1"];
  EXPECT_EQ(w1["ansible_host"].as<std::string>(), "10.0.0.2");
  EXPECT_EQ(w1["ansible_port"].as<int>(), 2222);
  EXPECT_EQ(w1["etcd_advertise_host"].as<std::string>(), "10.0.0.2");
  EXPECT_EQ(all["children"]["masters"]["hosts"]["master-2"]["etcd_client_port"].as<int>(), 2379);
}

// A real run ships the kubeadm files it rendered with the run's other staged files.
TEST_F(AnsibleBootstrapperTest, TheKubeadmFilesTravelWithTheRun) {
  Playbook("join-master.yml",
           "    - ansible.builtin.debug:\n"
           "        msg: \"KAAS-NOTE: kind={{ (lookup('file', kaas_files_dir + '/kubeadm/' + "
           "inventory_hostname + '.yaml') | from_yaml).kind }} "
           "token={{ lookup('file', kaas_files_dir + '/kubeadm/token') | length }}\"\n");
  auto r = Runner().Run(Job("join-master.yml"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->find("kind=JoinConfiguration token=23"), std::string::npos) << *r;
}

TEST_F(AnsibleBootstrapperTest, AFailingPlayFailsTheJobWithItsOutput) {
  Playbook("boom.yml", "    - ansible.builtin.fail:\n        msg: the disk is full\n");
  BootstrapJob job = Job("boom.yml");
  job.files = {{"etcd/master-2.key", "secret"}};
  auto r = Runner().Run(job);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("the disk is full"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(std::filesystem::exists(job.work_dir / "files")) << "a failed run keeps no keys";
}

}  // namespace
}  // namespace kaas::provisioner

namespace kaas::provisioner {
namespace {

// What every new cluster gets (bootstrap-master.yml applies it after kubeadm init).
TEST(GuardrailsTest, ManifestsAreWellFormedKubernetesObjects) {
  auto docs = YAML::LoadAllFromFile(std::string(KAAS_SOURCE_DIR) +
                                    "/templates/ansible/files/guardrails.yaml");
  std::multiset<std::string> kinds;
  for (const auto& d : docs) {
    if (!d.IsMap()) continue;
    ASSERT_TRUE(d["apiVersion"].IsScalar());
    ASSERT_TRUE(d["metadata"]["name"].IsScalar()) << d["kind"].as<std::string>();
    kinds.insert(d["kind"].as<std::string>());
    if (d["kind"].as<std::string>() == "ConfigMap") {
      // node-problem-detector reads this JSON; a syntax error would only show on the node.
      YAML::Node monitor = YAML::Load(d["data"]["kernel-monitor.json"].as<std::string>());
      EXPECT_EQ(monitor["plugin"].as<std::string>(), "kmsg");
      EXPECT_GE(monitor["rules"].size(), 1u);
    }
    if (d["kind"].as<std::string>() == "ValidatingAdmissionPolicyBinding") {
      EXPECT_EQ(d["spec"]["policyName"].as<std::string>(), "kaas-cronjob-history-limits");
    }
  }
  EXPECT_EQ(kinds, (std::multiset<std::string>{"ConfigMap", "LimitRange", "ResourceQuota",
                                               "ValidatingAdmissionPolicy",
                                               "ValidatingAdmissionPolicyBinding"}));
}

}  // namespace
}  // namespace kaas::provisioner

namespace kaas::provisioner {
namespace {

// etcdctl 3.4's answers, as `member list -w json` and `endpoint health --cluster -w json` print
// them: two voters (one unhealthy) and a learner that has not started (no name, no client URL).
constexpr char kMemberList[] = R"({"header":{"cluster_id":17237436991929493444,
  "member_id":9372538179322589801,"raft_term":2},"members":[
  {"ID":9372538179322589801,"name":"master-1","peerURLs":["https://10.0.2.2:40001"],
   "clientURLs":["https://10.0.2.2:40000"]},
  {"ID":10501334649042878790,"name":"master-2","peerURLs":["https://10.0.2.2:40011"],
   "clientURLs":["https://10.0.2.2:40010"]},
  {"ID":18249187646912138824,"peerURLs":["https://10.0.2.2:40021"],"isLearner":true}]})";
constexpr char kHealth[] = R"([{"endpoint":"https://10.0.2.2:40000","health":true,"took":"9ms"},
  {"endpoint":"https://10.0.2.2:40010","health":false,"took":"5s",
   "error":"context deadline exceeded"}])";

TEST(EtcdAnswersTest, MembersLearnersAndHealthAsEtcdctlPrintsThem) {
  auto view = ParseEtcdAnswers(kMemberList, kHealth);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->members.size(), 3u);
  EXPECT_EQ(view->members[0].name, "master-1");
  EXPECT_TRUE(view->members[0].healthy);
  EXPECT_FALSE(view->members[0].learner);
  EXPECT_EQ(view->members[1].name, "master-2");
  EXPECT_FALSE(view->members[1].healthy);
  EXPECT_EQ(view->members[1].error, "context deadline exceeded");
  EXPECT_EQ(view->members[2].name, "");
  EXPECT_TRUE(view->members[2].learner);
  EXPECT_EQ(view->members[2].peer_url, "https://10.0.2.2:40021");
  EXPECT_FALSE(view->members[2].healthy);
  EXPECT_EQ(view->members[2].error, "not started");
}

TEST(EtcdAnswersTest, AnythingElseIsInvalid) {
  for (auto [list, health] :
       std::vector<std::pair<std::string, std::string>>{{"", "[]"},
                                                        {"{}", "[]"},
                                                        {kMemberList, "{}"},
                                                        {kMemberList, "not json"},
                                                        {R"({"members":[{"name":1}]})", "[]"}}) {
    auto view = ParseEtcdAnswers(list, health);
    EXPECT_EQ(view.status().code(), Code::kInvalidArgument) << list << " / " << health;
  }
}

class EtcdQuestionTest : public JobTest {};

// The simulation's etcd answers from kaas's record: voters and learners, all healthy; it is asked
// on a voter only.
TEST_F(EtcdQuestionTest, TheSimulatedEtcdAnswersFromTheJobsNodes) {
  std::promise<SyntaxCheck> checked;
  checked.set_value({Status::Ok(), {}});
  templates::Renderer renderer(std::string(KAAS_SOURCE_DIR) + "/templates");
  SimulatedBootstrapper sim(renderer, checked.get_future().share(), 0);
  BootstrapJob job = Job("etcd-status.yml");
  job.nodes[1].etcd_learner = true;  // master-2
  job.targets = {"master-1"};
  auto view = sim.AskEtcd(job);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->members.size(), 2u);
  EXPECT_EQ(view->asked, "master-1");
  EXPECT_FALSE(view->members[0].learner);
  EXPECT_TRUE(view->members[1].learner);
  EXPECT_TRUE(view->members[1].healthy);
  job.targets = {"master-2"};
  EXPECT_EQ(sim.AskEtcd(job).status().code(), Code::kFailedPrecondition) << "asked a learner";
}

// The real runner reads etcdctl's answers from etcd-status.yml's output (here a play on this
// machine that prints the samples above the way the shipped playbook does).
TEST_F(EtcdQuestionTest, AnsibleReadsEtcdctlsAnswersFromThePlaybook) {
  std::filesystem::create_directories(dir_ / "playbooks");
  auto b64 = [](const std::string& s) {
    return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  std::ofstream(dir_ / "playbooks" / "etcd-status.yml")
      << "- hosts: \"{{ target_node }}\"\n  connection: local\n  gather_facts: false\n"
      << "  tasks:\n    - ansible.builtin.debug:\n        msg: \"KAAS-ETCD-MEMBERS: "
      << b64(kMemberList) << " KAAS-ETCD-HEALTH: " << b64(kHealth) << "\"\n";
  AddressResolver addresses;
  AnsibleOptions options;
  options.playbooks_dir = dir_ / "playbooks";
  options.templates_dir = std::string(KAAS_SOURCE_DIR) + "/templates";
  options.timeout_seconds = 120;
  AnsibleBootstrapper runner(options, addresses);
  BootstrapJob job = Job("ignored.yml");
  job.nodes[0].address = "127.0.0.1";
  job.targets = {"master-1"};
  auto view = runner.AskEtcd(job);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->asked, "master-1");
  ASSERT_EQ(view->members.size(), 3u);
  EXPECT_FALSE(view->members[1].healthy);
  EXPECT_TRUE(view->members[2].learner);
}

}  // namespace
}  // namespace kaas::provisioner
