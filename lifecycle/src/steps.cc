#include "kaas/lifecycle/steps.h"

#include <arpa/inet.h>

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "kaas/common/host_port.h"
#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/pki/certificates.h"
#include "kaas/store/repositories.h"

namespace kaas::lifecycle {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Runs fn over items concurrently (one thread per item, at most `width` at a time) and
// returns the first error.
template <typename T, typename Fn>
Status ForEachParallel(const std::vector<T>& items, size_t width, Fn fn) {
  Status first;
  for (size_t start = 0; start < items.size(); start += width) {
    std::vector<std::future<Status>> batch;
    for (size_t i = start; i < std::min(items.size(), start + width); ++i) {
      batch.push_back(std::async(std::launch::async, [&, i] { return fn(items[i]); }));
    }
    for (auto& f : batch) {
      Status st = f.get();
      if (!st.ok() && first.ok()) first = st;
    }
  }
  return first;
}

bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// etcd member and client certificates: a year (kaas re-issues them when a member joins again).
constexpr int64_t kEtcdCertTtlSeconds = int64_t{365} * 24 * 3600;

}  // namespace

Result<std::vector<store::Node>> ClusterSteps::LiveNodes(const std::string& cluster_id) {
  std::vector<store::Node> nodes;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    nodes = store::nodes::ListLive(tx, cluster_id);
    return Status::Ok();
  }));
  return nodes;
}

Status ClusterSteps::SetNodeState(const store::Node& n, const std::string& state) {
  return d_.db.Write([&](store::Tx& tx) {
    store::nodes::SetState(tx, n.id, state, d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<provisioner::Hypervisor*> ClusterSteps::HypervisorOf(const std::string& name) {
  std::optional<store::Hypervisor> hv;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    hv = store::hypervisors::Find(tx, name);
    return Status::Ok();
  }));
  if (!hv) return Status(Code::kFailedPrecondition, "hypervisor " + name + " is not registered");
  return d_.fleet.Get(hv->name, hv->uri);
}

// The control of the step running on this thread (a step runs on one engine thread).
thread_local const StepControl* tl_control = nullptr;

std::vector<std::string> SplitNames(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string ParamOf(const store::Operation& op, const std::string& key) {
  auto j = nlohmann::json::parse(op.params, nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

Result<std::string> ClusterSteps::Run(const store::Operation& op, const store::Step& step,
                                      const StepControl& control) {
  tl_control = &control;
  std::optional<store::Cluster> cluster;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    cluster = store::clusters::Find(tx, op.cluster_id);
    return Status::Ok();
  }));
  if (!cluster) return Internal("cluster " + op.cluster_id + " of operation " + op.id + " is gone");
  const store::Cluster& c = *cluster;
  if (step.kind == "reserve") return Reserve(c);
  if (step.kind == "issue_pki") return IssuePki(c);
  if (step.kind == "provision_nodes") return ProvisionNodes(c, step.target);
  if (step.kind == "bootstrap_first_master") {
    return Bootstrap(op, step, c, "bootstrap-master.yml", "master", step.target);
  }
  if (step.kind == "join_master")
    return Bootstrap(op, step, c, "join-master.yml", "master", step.target);
  if (step.kind == "join_workers") return Bootstrap(op, step, c, "join-worker.yml", "worker", "");
  if (step.kind == "verify") return Verify(c);
  if (step.kind == "destroy_nodes") return DestroyNodes(op, step, c, step.target);
  if (step.kind == "release_cluster") return ReleaseCluster(op, step, c);
  if (step.kind == "provision_node") {
    KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
    for (const auto& n : nodes) {
      if (n.name != step.target) continue;
      if (n.state != "reserved") return n.name + " already provisioned";
      KAAS_RETURN_IF_ERROR(ProvisionNode(n));
      return "provisioned " + n.name + " on " + (n.kind == "vm" ? n.hypervisor : n.host);
    }
    return Internal("node " + step.target + " is not part of the cluster");
  }
  if (step.kind == "etcd_add_learner") {
    return Transition(op, step, c, "join-master.yml", {step.target}, "provisioned", "learner",
                      {"ready"});
  }
  if (step.kind == "etcd_promote") {
    return Transition(op, step, c, "promote-master.yml", {step.target}, "learner", "ready", {});
  }
  if (step.kind == "health_gate") return HealthGate(c);
  if (step.kind == "etcd_remove") return EtcdRemove(op, step, c, step.target);
  if (step.kind == "drain_nodes") {
    return Transition(op, step, c, "drain-node.yml", SplitNames(step.target), "ready", "draining",
                      {});
  }
  if (step.kind == "resize_node") return ResizeNode(c, step.target);
  if (step.kind == "upgrade_nodes") return UpgradeNodes(op, step, c, SplitNames(step.target));
  return Internal("unknown step kind " + step.kind);
}

Result<std::string> ClusterSteps::Transition(const store::Operation& op, const store::Step& step,
                                             const store::Cluster& c, const std::string& playbook,
                                             const std::vector<std::string>& names,
                                             const std::string& from, const std::string& to,
                                             const std::vector<std::string>& done_states,
                                             std::map<std::string, std::string> extra_vars) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  provisioner::BootstrapJob job = NewJob(op, step, c, playbook, nodes);
  job.extra_vars = std::move(extra_vars);
  std::vector<store::Node> todo;
  size_t skipped = 0;
  for (const auto& name : names) {
    auto it = std::find_if(nodes.begin(), nodes.end(),
                           [&](const store::Node& n) { return n.name == name; });
    if (it == nodes.end()) return Internal("node " + name + " is not part of the cluster");
    if (it->state == to ||
        std::find(done_states.begin(), done_states.end(), it->state) != done_states.end()) {
      ++skipped;  // observed: already done
      continue;
    }
    if (it->state != from) {
      return Internal("node " + name + " is " + it->state + ", expected " + from);
    }
    todo.push_back(*it);
    job.targets.push_back(name);
  }
  if (todo.empty()) return std::string("already done; nothing to do");
  KAAS_RETURN_IF_ERROR(AddEtcdTls(job, c, todo));
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    for (const auto& n : todo) store::nodes::SetState(tx, n.id, to, d_.clock.NowMs());
    return Status::Ok();
  }));
  if (skipped > 0) msg += "; " + std::to_string(skipped) + " already done";
  return msg;
}

provisioner::BootstrapJob ClusterSteps::NewJob(const store::Operation& op, const store::Step& step,
                                               const store::Cluster& c, const std::string& playbook,
                                               const std::vector<store::Node>& nodes) const {
  provisioner::BootstrapJob job;
  job.playbook = playbook;
  job.cluster_id = c.id;
  job.cluster_name = c.name;
  job.kubernetes_version = c.kubernetes_version;
  job.work_dir = d_.work_root / op.id / (std::to_string(step.index) + "-" + step.kind);
  job.cancel = tl_control ? tl_control->cancel : nullptr;
  // Every line of the run becomes a `log` event of the cluster: the operation's live log in
  // the event stream (GET /clusters/{id}/events), next to the step it belongs to.
  job.on_output = [this, cluster_id = c.id, team_id = c.team_id, op_id = op.id, index = step.index,
                   name = step.name](const std::string& line) {
    store::Event e{
        NewId("ev"),
        cluster_id,
        team_id,
        d_.clock.NowMs(),
        "log",
        nlohmann::json{{"operation", op_id}, {"index", index}, {"step", name}, {"line", line}}
            .dump()};
    Status st = d_.db.Write([&](store::Tx& tx) {
      store::events::Insert(tx, e);
      return Status::Ok();
    });
    if (!st.ok()) log::Warn("step log line not recorded", {{"error", st.message()}});
  };
  for (const auto& n : nodes) {
    job.nodes.push_back({n.name, n.role, n.address, n.role == "master" && n.state == "ready"});
  }
  return job;
}

Status ClusterSteps::AddEtcdTls(provisioner::BootstrapJob& job, const store::Cluster& c,
                                const std::vector<store::Node>& targets) const {
  const bool master = job.playbook == "bootstrap-master.yml" || job.playbook == "join-master.yml";
  if (!master && job.playbook != "join-worker.yml") {
    return Status::Ok();  // only a node that starts etcd or joins Kubernetes needs these
  }
  std::optional<store::ClusterSecrets> secrets;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    secrets = store::secrets::Get(tx, c.id);
    return Status::Ok();
  }));
  if (!secrets) return Internal("cluster " + c.id + " has no etcd CA yet");
  // Kubernetes: a worker trusts the cluster CA (kubeadm join's discovery); every master gets the
  // keys kubeadm expects to find shared (it makes each master's own certificates from them).
  job.files["kubernetes/ca.crt"] = secrets->ca_cert;
  if (!master) return Status::Ok();
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/ca.key"], d_.secret_box.Open(secrets->ca_key_sealed));
  job.files["kubernetes/front-proxy-ca.crt"] = secrets->front_proxy_ca_cert;
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/front-proxy-ca.key"],
                        d_.secret_box.Open(secrets->front_proxy_ca_key_sealed));
  job.files["kubernetes/sa.pub"] = secrets->sa_public_key;
  KAAS_ASSIGN_OR_RETURN(job.files["kubernetes/sa.key"],
                        d_.secret_box.Open(secrets->sa_private_key_sealed));

  KAAS_ASSIGN_OR_RETURN(std::string ca_key, d_.secret_box.Open(secrets->etcd_ca_key_sealed));
  const int64_t now = d_.clock.NowMs() / 1000;
  job.files["etcd/ca.crt"] = secrets->etcd_ca_cert;
  // The API server's own client certificate for the cluster's etcd (external etcd).
  KAAS_ASSIGN_OR_RETURN(
      pki::ClientCert apiserver,
      pki::IssueClientCert(secrets->etcd_ca_cert, ca_key, "kube-apiserver-etcd-client", {},
                           kEtcdCertTtlSeconds, now));
  job.files["kubernetes/apiserver-etcd-client.crt"] = apiserver.cert_pem;
  job.files["kubernetes/apiserver-etcd-client.key"] = apiserver.key_pem;
  KAAS_ASSIGN_OR_RETURN(pki::ClientCert client,
                        pki::IssueClientCert(secrets->etcd_ca_cert, ca_key, "kaas-etcdctl", {},
                                             kEtcdCertTtlSeconds, now));
  job.files["etcd/client.crt"] = client.cert_pem;
  job.files["etcd/client.key"] = client.key_pem;
  for (const auto& n : targets) {
    if (n.role != "master") continue;
    std::vector<std::string> dns = {n.name, "localhost"};
    std::vector<std::string> ips = {"127.0.0.1"};
    for (const std::string& extra : d_.etcd_cert_extra_names) {
      (IsIpAddress(extra) ? ips : dns).push_back(extra);
    }
    if (auto at = ParseHostPort(n.address, 22); at.ok()) {  // "host:ssh-port" -> "host"
      (IsIpAddress(at->host) ? ips : dns).push_back(at->host);
    }
    KAAS_ASSIGN_OR_RETURN(pki::ClientCert member,
                          pki::IssueServingCert(secrets->etcd_ca_cert, ca_key, n.name, dns, ips,
                                                kEtcdCertTtlSeconds, now));
    job.files["etcd/" + n.name + ".crt"] = member.cert_pem;
    job.files["etcd/" + n.name + ".key"] = member.key_pem;
  }
  return Status::Ok();
}

Result<std::string> ClusterSteps::HealthGate(const store::Cluster& c) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  int voters = 0, learners = 0;
  for (const auto& n : nodes) {
    if (n.role != "master") continue;
    if (n.state == "learner") ++learners;
    if (n.state != "ready") continue;
    ++voters;
    if (n.kind != "vm") continue;
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    auto info = hv->FindDomain(provisioner::DomainName(c.id, n.name));
    if (!info.ok() || !info->running) {
      return Unavailable("etcd member " + n.name +
                         " is not running; waiting before changing "
                         "membership");
    }
  }
  if (voters == 0) return Unavailable("no healthy etcd voter");
  return std::to_string(voters) + " etcd voter(s) healthy" +
         (learners ? ", " + std::to_string(learners) + " learner(s)" : "");
}

Result<std::string> ClusterSteps::EtcdRemove(const store::Operation& op, const store::Step& step,
                                             const store::Cluster& c, const std::string& name) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  int voters = 0;
  const store::Node* target = nullptr;
  for (const auto& n : nodes) {
    if (n.role == "master" && n.state == "ready") ++voters;
    if (n.name == name) target = &n;
  }
  if (!target || target->state == "removing") return name + " is no longer an etcd member";
  if (target->state == "ready" && voters <= 1) {
    return Status(Code::kFailedPrecondition,
                  "refusing to remove " + name + ": it is the last voting etcd member");
  }
  return Transition(op, step, c, "remove-master.yml", {name}, target->state, "removing", {});
}

Result<std::string> ClusterSteps::ResizeNode(const store::Cluster& c, const std::string& name) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  for (const auto& n : nodes) {
    if (n.name != name) continue;
    if (n.kind != "vm") return name + " is a physical host; nothing to resize";
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    provisioner::DomainSpec spec{
        provisioner::DomainName(c.id, n.name), {c.id, n.name, n.role}, n.vcpus, n.memory_gib};
    KAAS_ASSIGN_OR_RETURN(auto info, hv->ResizeDomain(spec));
    return "resized " + name + " to " + n.flavor + " (" + std::to_string(info.vcpus) + " vCPU, " +
           std::to_string(info.memory_gib) + " GiB)";
  }
  return Internal("node " + name + " is not part of the cluster");
}

Result<std::string> ClusterSteps::UpgradeNodes(const store::Operation& op, const store::Step& step,
                                               const store::Cluster& c,
                                               const std::vector<std::string>& names) {
  std::string version = ParamOf(op, "kubernetes_version");
  if (version.empty()) return Internal("upgrade operation without a target version");
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  provisioner::BootstrapJob job = NewJob(op, step, c, "upgrade-node.yml", nodes);
  job.kubernetes_version = version;
  job.extra_vars = {{"max_unavailable", std::to_string(names.size())}};
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    if (std::find(names.begin(), names.end(), n.name) == names.end()) continue;
    if (n.kubernetes_version == version) continue;  // observed: already upgraded
    todo.push_back(n);
    job.targets.push_back(n.name);
  }
  if (todo.empty()) return "already at " + version;
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    for (const auto& n : todo) store::nodes::SetVersion(tx, n.id, version, d_.clock.NowMs());
    return Status::Ok();
  }));
  return "upgraded " + std::to_string(todo.size()) + " node(s) to " + version + "; " + msg;
}

Status ClusterSteps::Settle(const store::Operation& op) {
  return d_.db.Write([&](store::Tx& tx) {
    auto c = store::clusters::Find(tx, op.cluster_id);
    if (!c || c->status == "deleted") return Status::Ok();
    auto nodes = store::nodes::ListLive(tx, c->id);
    int64_t masters = 0, workers = 0;
    std::map<std::string, int> versions;
    const store::Node* master = nullptr;
    for (const auto& n : nodes) {
      versions[n.kubernetes_version]++;
      if (n.role == "worker") {
        ++workers;
        continue;
      }
      if (n.state == "removing") continue;
      ++masters;
      if (n.state == "ready" && (!master || n.name < master->name)) master = &n;
    }
    if (masters == 0 && workers == 0) return Status::Ok();  // nothing built yet
    c->master_count = masters;
    c->worker_count = workers;
    if (master) {
      c->master_flavor = master->flavor;
      c->master_kind = master->kind;
    }
    // The cluster's version is the one every node runs; mid-upgrade it stays the older one.
    if (versions.size() == 1) c->kubernetes_version = versions.begin()->first;
    store::clusters::SetShape(tx, *c, d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<std::string> ClusterSteps::Reserve(const store::Cluster& c) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  std::vector<std::string> where;
  int64_t masters = 0, workers = 0;
  for (const auto& n : nodes) {
    (n.role == "master" ? masters : workers)++;
    if (n.role == "master") where.push_back(n.kind == "vm" ? n.hypervisor : n.host);
  }
  if (masters != c.master_count || workers != c.worker_count) {
    return Internal("reservation does not match the cluster: " + std::to_string(masters) +
                    " masters and " + std::to_string(workers) + " workers reserved");
  }
  return "reserved " + std::to_string(masters) + " × " + c.master_flavor + " masters (" +
         Join(where) + ") and " + std::to_string(workers) + " workers at admission";
}

Result<std::string> ClusterSteps::IssuePki(const store::Cluster& c) {
  std::optional<store::ClusterSecrets> existing;
  KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
    existing = store::secrets::Get(tx, c.id);
    return Status::Ok();
  }));
  if (existing)
    return std::string(
        "cluster CA, etcd CA, front-proxy CA and service-account key already issued");
  KAAS_ASSIGN_OR_RETURN(pki::ClusterPki issued,
                        pki::IssueClusterPki(c.name, d_.clock.NowMs() / 1000));
  store::ClusterSecrets s;
  s.cluster_id = c.id;
  s.ca_cert = issued.ca.cert_pem;
  s.etcd_ca_cert = issued.etcd_ca.cert_pem;
  s.front_proxy_ca_cert = issued.front_proxy_ca.cert_pem;
  s.sa_public_key = issued.sa_public_key_pem;
  KAAS_ASSIGN_OR_RETURN(s.ca_key_sealed, d_.secret_box.Seal(issued.ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.etcd_ca_key_sealed, d_.secret_box.Seal(issued.etcd_ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.front_proxy_ca_key_sealed,
                        d_.secret_box.Seal(issued.front_proxy_ca.key_pem));
  KAAS_ASSIGN_OR_RETURN(s.sa_private_key_sealed, d_.secret_box.Seal(issued.sa_private_key_pem));
  s.created_at = d_.clock.NowMs();
  Status st = d_.db.Write([&](store::Tx& tx) {
    if (store::secrets::Get(tx, c.id)) return Status::Ok();  // a concurrent run won
    store::secrets::Put(tx, s);
    return Status::Ok();
  });
  KAAS_RETURN_IF_ERROR(st);
  return std::string(
      "issued cluster CA, etcd CA, front-proxy CA and service-account key "
      "(private keys sealed at rest)");
}

Status ClusterSteps::ProvisionNode(const store::Node& n) {
  if (n.state != "reserved") return Status::Ok();  // already provisioned
  std::string address;
  if (n.kind == "vm") {
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    provisioner::DomainSpec spec{provisioner::DomainName(n.cluster_id, n.name),
                                 {n.cluster_id, n.name, n.role},
                                 n.vcpus,
                                 n.memory_gib};
    KAAS_ASSIGN_OR_RETURN(auto info, hv->EnsureDomainRunning(spec));
    if (!info.running) return Unavailable("domain " + spec.name + " did not start");
    address = n.name + "." + n.cluster_id + ".sim";
  } else {
    std::optional<store::Host> host;
    KAAS_RETURN_IF_ERROR(d_.db.Read([&](store::Tx& tx) {
      host = store::hosts::Find(tx, n.host);
      return Status::Ok();
    }));
    if (!host || host->cluster_id != n.cluster_id) {
      return Internal("host " + n.host + " is not allocated to cluster " + n.cluster_id);
    }
    address = host->address;
  }
  return d_.db.Write([&](store::Tx& tx) {
    store::nodes::SetAddress(tx, n.id, address, d_.clock.NowMs());
    store::nodes::SetState(tx, n.id, "provisioned", d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<std::string> ClusterSteps::ProvisionNodes(const store::Cluster& c, const std::string& role) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  std::vector<store::Node> todo;
  size_t done = 0;
  for (const auto& n : nodes) {
    if (n.role != role) continue;
    (n.state == "reserved" ? todo.push_back(n) : void(++done));
  }
  KAAS_RETURN_IF_ERROR(
      ForEachParallel(todo, 16, [&](const store::Node& n) { return ProvisionNode(n); }));
  std::vector<std::string> names;
  for (const auto& n : todo)
    names.push_back(n.name + "@" + (n.kind == "vm" ? n.hypervisor : n.host));
  std::string msg = "provisioned " + std::to_string(todo.size()) + " " + role + "(s) in parallel";
  if (!names.empty()) msg += ": " + Join(names);
  if (done > 0) msg += "; " + std::to_string(done) + " already provisioned";
  return msg;
}

Result<std::string> ClusterSteps::Bootstrap(const store::Operation& op, const store::Step& step,
                                            const store::Cluster& c, const std::string& playbook,
                                            const std::string& role, const std::string& target) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  provisioner::BootstrapJob job = NewJob(op, step, c, playbook, nodes);
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    if (n.role != role || (!target.empty() && n.name != target)) continue;
    if (n.state == "ready") continue;  // joined already (observe before acting)
    if (n.state != "provisioned") {
      return Internal("node " + n.name + " is " + n.state + ", expected provisioned");
    }
    todo.push_back(n);
    job.targets.push_back(n.name);
  }
  if (todo.empty()) return std::string("already joined; nothing to do");
  KAAS_RETURN_IF_ERROR(AddEtcdTls(job, c, todo));
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
  if (playbook == "join-master.yml") {
    // A create's further masters join as learners and are promoted in the same step (both
    // playbooks observe etcd first, so a re-run after a crash is harmless).
    provisioner::BootstrapJob promote = std::move(job);
    promote.playbook = "promote-master.yml";
    promote.files.clear();
    promote.work_dir += "-promote";
    KAAS_ASSIGN_OR_RETURN(std::string promoted, d_.bootstrapper.Run(promote));
    msg += "; " + promoted;
  }
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    for (const auto& n : todo) store::nodes::SetState(tx, n.id, "ready", d_.clock.NowMs());
    return Status::Ok();
  }));
  return msg;
}

Result<std::string> ClusterSteps::Verify(const store::Cluster& c) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  for (const auto& n : nodes) {
    if (n.state != "ready") return Internal("node " + n.name + " is " + n.state + ", not ready");
    if (n.kind != "vm") continue;
    KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
    auto info = hv->FindDomain(provisioner::DomainName(c.id, n.name));
    if (!info.ok()) return Unavailable("domain of " + n.name + ": " + info.status().message());
    if (!info->running) return Unavailable("domain of " + n.name + " is not running");
  }
  return std::to_string(nodes.size()) + " nodes ready, every domain running";
}

Status ClusterSteps::DestroyNode(const store::Operation& op, const store::Step& step,
                                 const store::Cluster& c, const store::Node& n,
                                 const std::atomic<bool>* cancel) {
  if (n.kind == "vm") {
    if (!n.hypervisor.empty()) {
      KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
      KAAS_RETURN_IF_ERROR(hv->DestroyDomain(provisioner::DomainName(n.cluster_id, n.name)));
    }
    return SetNodeState(n, "deleted");
  }
  // A physical host is wiped (wipe-host.yml undoes what kaas installed) before it returns to
  // the pool; the node and the allocation go in one transaction so the host is never both
  // free and in use. A host that cannot be wiped goes to maintenance, never to the next team.
  bool ours = false;
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    ours = host && host->cluster_id == n.cluster_id;
    if (ours) store::hosts::SetState(tx, n.host, "wiping", n.cluster_id);
    return Status::Ok();
  }));
  std::string after = "available";
  if (ours && n.state != "reserved") {  // a reserved host never had anything installed
    provisioner::BootstrapJob job = NewJob(op, step, c, "wipe-host.yml", {n});
    job.work_dir /= n.name;
    job.targets = {n.name};
    job.cancel = cancel;
    auto wiped = d_.bootstrapper.Run(job);
    if (!wiped.ok()) {
      if (wiped.status().code() == Code::kCancelled) return wiped.status();
      log::Warn("host wipe failed; the host goes to maintenance",
                {{"host", n.host}, {"cluster", c.id}, {"error", wiped.status().message()}});
      after = "maintenance";
    }
  }
  return d_.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    if (host && host->cluster_id == n.cluster_id) store::hosts::SetState(tx, n.host, after, "");
    store::nodes::SetState(tx, n.id, "deleted", d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<std::string> ClusterSteps::DestroyNodes(const store::Operation& op, const store::Step& step,
                                               const store::Cluster& c, const std::string& target) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  bool by_role = target == "master" || target == "worker";
  auto names = SplitNames(target);
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    bool named = std::find(names.begin(), names.end(), n.name) != names.end();
    if (by_role ? n.role == target : named) todo.push_back(n);
  }
  const std::atomic<bool>* cancel = tl_control ? tl_control->cancel : nullptr;
  KAAS_RETURN_IF_ERROR(ForEachParallel(
      todo, 16, [&](const store::Node& n) { return DestroyNode(op, step, c, n, cancel); }));
  if (by_role) return "removed " + std::to_string(todo.size()) + " " + target + "(s)";
  std::vector<std::string> removed;
  for (const auto& n : todo) removed.push_back(n.name);
  return removed.empty() ? std::string("already removed") : "removed " + Join(removed);
}

Result<std::string> ClusterSteps::ReleaseCluster(const store::Operation& op,
                                                 const store::Step& step, const store::Cluster& c) {
  // Anything still live (a node reserved after the plan was made) goes too.
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  const std::atomic<bool>* cancel = tl_control ? tl_control->cancel : nullptr;
  KAAS_RETURN_IF_ERROR(ForEachParallel(
      nodes, 16, [&](const store::Node& n) { return DestroyNode(op, step, c, n, cancel); }));
  // A host still allocated to the cluster without a live node on it was never released by
  // its node, so nothing says it was wiped: it goes to maintenance, not back to the pool.
  size_t released = 0;
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    store::secrets::Delete(tx, c.id);
    for (const auto& h : store::hosts::List(tx)) {
      if (h.cluster_id != c.id) continue;
      store::hosts::SetState(tx, h.name, "maintenance", "");
      log::Warn("leftover host allocation goes to maintenance (wipe it before reuse)",
                {{"host", h.name}, {"cluster", c.id}});
      ++released;
    }
    return Status::Ok();
  }));
  return "destroyed the cluster's CAs and keys, released quota and placement; " +
         std::to_string(nodes.size() + released) + " leftover allocation(s) cleaned";
}

}  // namespace kaas::lifecycle
