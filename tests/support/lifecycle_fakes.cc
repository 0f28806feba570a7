#include "lifecycle_fakes.h"

namespace kaas::lifecycle::test_support {

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

std::string CreateRunning(Env& env, const CreateClusterRequest& r) {
  auto created = env.Create(r);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) return "";
  store::Operation op = env.WaitForOperation(created->operation.id);
  EXPECT_EQ(op.state, "succeeded") << op.error;
  return created->cluster.id;
}

CreateClusterRequest Request(const std::string& purpose, int64_t workers,
                             const std::string& worker_flavor, const std::string& version) {
  CreateClusterRequest r = Env::DevRequest();
  r.purpose = purpose;
  r.worker_count = workers;
  r.worker_flavor = worker_flavor;
  r.kubernetes_version = version;
  return r;
}

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

std::map<std::pair<std::string, std::string>, int> JobTargets(Env& env) {
  return env.bootstrapper().Targeted();
}

}  // namespace kaas::lifecycle::test_support
