#include "kaas/lifecycle/steps.h"

#include <algorithm>
#include <future>

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

Result<std::string> ClusterSteps::Run(const store::Operation& op, const store::Step& step) {
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
  if (step.kind == "destroy_nodes") return DestroyNodes(c, step.target);
  if (step.kind == "release_cluster") return ReleaseCluster(c);
  return Internal("unknown step kind " + step.kind);
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
  provisioner::BootstrapJob job;
  job.playbook = playbook;
  job.cluster_id = c.id;
  job.cluster_name = c.name;
  job.kubernetes_version = c.kubernetes_version;
  job.work_dir = d_.work_root / op.id / (std::to_string(step.index) + "-" + step.kind);
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    job.nodes.push_back({n.name, n.role, n.address});
    if (n.role != role || (!target.empty() && n.name != target)) continue;
    if (n.state == "ready") continue;  // joined already (observe before acting)
    if (n.state != "provisioned") {
      return Internal("node " + n.name + " is " + n.state + ", expected provisioned");
    }
    todo.push_back(n);
    job.targets.push_back(n.name);
  }
  if (todo.empty()) return std::string("already joined; nothing to do");
  KAAS_ASSIGN_OR_RETURN(std::string msg, d_.bootstrapper.Run(job));
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

Status ClusterSteps::DestroyNode(const store::Node& n) {
  if (n.kind == "vm") {
    if (!n.hypervisor.empty()) {
      KAAS_ASSIGN_OR_RETURN(provisioner::Hypervisor * hv, HypervisorOf(n.hypervisor));
      KAAS_RETURN_IF_ERROR(hv->DestroyDomain(provisioner::DomainName(n.cluster_id, n.name)));
    }
    return SetNodeState(n, "deleted");
  }
  // A physical host is wiped before it returns to the pool; the node and the allocation go in
  // one transaction so the host is never both free and in use.
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    if (host && host->cluster_id == n.cluster_id) {
      store::hosts::SetState(tx, n.host, "wiping", n.cluster_id);
    }
    return Status::Ok();
  }));
  return d_.db.Write([&](store::Tx& tx) {
    auto host = store::hosts::Find(tx, n.host);
    if (host && host->cluster_id == n.cluster_id) {
      store::hosts::SetState(tx, n.host, "available", "");
    }
    store::nodes::SetState(tx, n.id, "deleted", d_.clock.NowMs());
    return Status::Ok();
  });
}

Result<std::string> ClusterSteps::DestroyNodes(const store::Cluster& c, const std::string& role) {
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  std::vector<store::Node> todo;
  for (const auto& n : nodes) {
    if (n.role == role) todo.push_back(n);
  }
  KAAS_RETURN_IF_ERROR(
      ForEachParallel(todo, 16, [&](const store::Node& n) { return DestroyNode(n); }));
  return "removed " + std::to_string(todo.size()) + " " + role + "(s)";
}

Result<std::string> ClusterSteps::ReleaseCluster(const store::Cluster& c) {
  // Anything still live (a node reserved after the plan was made) goes too.
  KAAS_ASSIGN_OR_RETURN(auto nodes, LiveNodes(c.id));
  KAAS_RETURN_IF_ERROR(
      ForEachParallel(nodes, 16, [&](const store::Node& n) { return DestroyNode(n); }));
  size_t released = 0;
  KAAS_RETURN_IF_ERROR(d_.db.Write([&](store::Tx& tx) {
    store::secrets::Delete(tx, c.id);
    for (const auto& h : store::hosts::List(tx)) {
      if (h.cluster_id != c.id) continue;
      store::hosts::SetState(tx, h.name, "available", "");
      ++released;
    }
    return Status::Ok();
  }));
  return "destroyed the cluster's CAs and keys, released quota and placement; " +
         std::to_string(nodes.size() + released) + " leftover allocation(s) cleaned";
}

}  // namespace kaas::lifecycle
