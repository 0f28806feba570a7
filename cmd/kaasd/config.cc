#include "config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>

namespace kaas {
namespace {

Status ParseInt(const std::string& key, const std::string& value, int* out) {
  try {
    size_t used = 0;
    int v = std::stoi(value, &used);
    if (used != value.size() || v < 0) throw std::invalid_argument(value);
    *out = v;
    return Status::Ok();
  } catch (const std::exception&) {
    return InvalidArgument(key, key + " must be a non-negative integer, got '" + value + "'");
  }
}

Status ParseInt64(const std::string& key, const std::string& value, int64_t* out) {
  int v = 0;
  KAAS_RETURN_IF_ERROR(ParseInt(key, value, &v));
  *out = v;
  return Status::Ok();
}

// Applies one key=value, from the file or a flag. Flags spell keys with '-', the file with
// '_'; both are accepted everywhere.
// "DN=TEAM:ROLE;DN=TEAM:ROLE": each entry splits at its last '=' (a DN has '=' of its own).
Status ParseGroupMap(const std::string& key, const std::string& value,
                     std::vector<KaasdConfig::Ldap::GroupMapEntry>* out) {
  out->clear();
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(';', start);
    if (end == std::string::npos) end = value.size();
    std::string entry = value.substr(start, end - start);
    start = end + 1;
    if (entry.find_first_not_of(" \t\n") == std::string::npos) continue;
    size_t eq = entry.rfind('=');
    size_t colon = eq == std::string::npos ? std::string::npos : entry.find(':', eq);
    if (eq == std::string::npos || colon == std::string::npos) {
      return InvalidArgument(key, key + ": '" + entry + "' is not GROUP_DN=TEAM:ROLE");
    }
    auto trim = [](std::string t) {
      t.erase(0, t.find_first_not_of(" \t\n"));
      t.erase(t.find_last_not_of(" \t\n") + 1);
      return t;
    };
    out->push_back({trim(entry.substr(0, eq)), trim(entry.substr(eq + 1, colon - eq - 1)),
                    trim(entry.substr(colon + 1))});
  }
  return Status::Ok();
}

Status Apply(KaasdConfig& c, std::string key, const std::string& value) {
  std::replace(key.begin(), key.end(), '-', '_');
  // ldap: {url: ...} in the file is the same as ldap_url.
  if (key.rfind("ldap.", 0) == 0) key[4] = '_';
  if (key == "ldap_starttls") {
    if (value != "true" && value != "false")
      return InvalidArgument(key, "ldap_starttls must be true or false");
    c.ldap.starttls = value == "true";
    return Status::Ok();
  }
  if (key == "ldap_group_map") return ParseGroupMap(key, value, &c.ldap.group_map);
  if (key == "ldap_timeout_seconds") {
    KAAS_RETURN_IF_ERROR(ParseInt(key, value, &c.ldap.timeout_seconds));
    if (c.ldap.timeout_seconds < 1) return InvalidArgument(key, key + " must be at least 1");
    return Status::Ok();
  }
  static const std::map<std::string, std::string KaasdConfig::Ldap::*> kLdapStrings = {
      {"ldap_url", &KaasdConfig::Ldap::url},
      {"ldap_ca_file", &KaasdConfig::Ldap::ca_file},
      {"ldap_bind_dn", &KaasdConfig::Ldap::bind_dn},
      {"ldap_bind_password_file", &KaasdConfig::Ldap::bind_password_file},
      {"ldap_user_dn_template", &KaasdConfig::Ldap::user_dn_template},
      {"ldap_user_search_base", &KaasdConfig::Ldap::user_search_base},
      {"ldap_user_search_filter", &KaasdConfig::Ldap::user_search_filter},
      {"ldap_group_search_base", &KaasdConfig::Ldap::group_search_base},
      {"ldap_group_search_filter", &KaasdConfig::Ldap::group_search_filter},
  };
  if (auto it = kLdapStrings.find(key); it != kLdapStrings.end()) {
    c.ldap.*(it->second) = value;
    return Status::Ok();
  }
  if (key == "listen") {
    c.listen = value;
    if (c.port() < 0 || c.port() > 65535 || c.host().empty()) {
      return InvalidArgument(key, "listen must be HOST:PORT (port 0 picks a free one)");
    }
    return Status::Ok();
  }
  if (key == "data_dir") return c.data_dir = value, Status::Ok();
  if (key == "database") return c.database = value, Status::Ok();
  if (key == "templates-dir" || key == "templates_dir")
    return c.templates_dir = value, Status::Ok();
  if (key == "web_dir") return c.web_dir = value, Status::Ok();
  if (key == "fault_injection") {
    if (value != "true" && value != "false") {
      return InvalidArgument(key, "fault_injection must be true or false");
    }
    c.fault_injection = value == "true";
    return Status::Ok();
  }
  if (key == "webhook_allow_loopback") {
    if (value != "true" && value != "false")
      return InvalidArgument(key, "webhook_allow_loopback must be true or false");
    c.webhook_allow_loopback = value == "true";
    return Status::Ok();
  }
  if (key == "reap_orphans") {
    if (value != "true" && value != "false")
      return InvalidArgument(key, "reap_orphans must be true or false");
    c.reap_orphans = value == "true";
    return Status::Ok();
  }
  if (key == "simulated") {
    if (value != "true" && value != "false")
      return InvalidArgument(key, "simulated must be true or false");
    c.simulated = value == "true";
    return Status::Ok();
  }
  if (key == "bootstrap") {
    if (value != "simulated" && value != "ansible")
      return InvalidArgument(key, "bootstrap must be simulated or ansible");
    c.bootstrap = value;
    return Status::Ok();
  }
  if (key == "kubernetes_install" || key == "kubernetes.install") {
    if (value != "true" && value != "false")
      return InvalidArgument(key, key + " must be true or false");
    c.kubernetes_install = value == "true";
    return Status::Ok();
  }
  static const std::map<std::string, std::string KaasdConfig::*> kStrings = {
      {"guest_image", &KaasdConfig::guest_image},
      {"ssh_key", &KaasdConfig::ssh_key},
      {"kubernetes_binaries", &KaasdConfig::kubernetes_binaries},
      {"kubernetes.binaries", &KaasdConfig::kubernetes_binaries},
      {"vm_pool_name", &KaasdConfig::vm_pool_name},
      {"vm_pool_dir", &KaasdConfig::vm_pool_dir},
      {"vm_console_dir", &KaasdConfig::vm_console_dir},
      {"etcd_cert_extra_names", &KaasdConfig::etcd_cert_extra_names},
      {"portal_url", &KaasdConfig::portal_url},
      {"trusted_proxies", &KaasdConfig::trusted_proxies},
      {"tls_cert", &KaasdConfig::tls_cert},
      {"tls_key", &KaasdConfig::tls_key},
      {"replica_id", &KaasdConfig::replica_id},
      {"master_key", &KaasdConfig::master_key},
  };
  if (auto it = kStrings.find(key); it != kStrings.end()) {
    c.*(it->second) = value;
    return Status::Ok();
  }
  static const std::map<std::string, int KaasdConfig::*> kInts = {
      {"vm_boot_timeout_seconds", &KaasdConfig::vm_boot_timeout_seconds},
      {"vm_max_vcpus", &KaasdConfig::vm_max_vcpus},
      {"vm_max_memory_mib", &KaasdConfig::vm_max_memory_mib},
      {"ansible_timeout_seconds", &KaasdConfig::ansible_timeout_seconds},
      {"sim_delay_ms", &KaasdConfig::sim_delay_ms},
      {"database_timeout_seconds", &KaasdConfig::database_timeout_seconds},
      {"engine_threads", &KaasdConfig::engine_threads},
      {"lease_expiry_s", &KaasdConfig::lease_expiry_s},
      {"lease_poll_ms", &KaasdConfig::lease_poll_ms},
      {"webhook_workers", &KaasdConfig::webhook_workers},
      {"webhook_timeout_ms", &KaasdConfig::webhook_timeout_ms},
      {"webhook_retry_base_ms", &KaasdConfig::webhook_retry_base_ms},
      {"session_ttl_hours", &KaasdConfig::session_ttl_hours},
      {"kubeconfig_max_ttl_hours", &KaasdConfig::kubeconfig_max_ttl_hours},
      {"max_event_streams", &KaasdConfig::max_event_streams},
      {"session_ttl_seconds", &KaasdConfig::session_ttl_seconds},
      {"reconcile_interval_seconds", &KaasdConfig::reconcile_interval_seconds},
      {"health_interval_s", &KaasdConfig::health_interval_s},
      {"repair_grace_s", &KaasdConfig::repair_grace_s},
      {"login_rate_window_seconds", &KaasdConfig::login_rate_window_seconds},
      {"login_max_failures_per_user", &KaasdConfig::login_max_failures_per_user},
      {"login_max_failures_per_address", &KaasdConfig::login_max_failures_per_address},
      {"sim_hypervisors", &KaasdConfig::sim_hypervisors},
      {"sim_hypervisor_vcpus", &KaasdConfig::sim_hypervisor_vcpus},
      {"sim_hypervisor_memory_gib", &KaasdConfig::sim_hypervisor_memory_gib},
      {"sim_hosts", &KaasdConfig::sim_hosts},
      {"sim_host_vcpus", &KaasdConfig::sim_host_vcpus},
      {"sim_host_memory_gib", &KaasdConfig::sim_host_memory_gib},
  };
  if (auto it = kInts.find(key); it != kInts.end()) return ParseInt(key, value, &(c.*(it->second)));
  static const std::map<std::string, int64_t quota::Limits::*> kQuota = {
      {"quota_defaults.clusters", &quota::Limits::clusters},
      {"quota_defaults.vcpus", &quota::Limits::vcpus},
      {"quota_defaults.memory_gib", &quota::Limits::memory_gib},
      {"quota_defaults.physical_hosts", &quota::Limits::physical_hosts},
  };
  if (auto it = kQuota.find(key); it != kQuota.end()) {
    return ParseInt64(key, value, &(c.quota_defaults.*(it->second)));
  }
  return InvalidArgument(key, "unknown setting " + key);
}

Status ApplyYaml(KaasdConfig& c, const YAML::Node& node, const std::string& prefix) {
  for (const auto& kv : node) {
    std::string key = prefix + kv.first.as<std::string>();
    if (kv.second.IsMap()) {
      KAAS_RETURN_IF_ERROR(ApplyYaml(c, kv.second, key + "."));
    } else if ((key == "ldap_group_map" || key == "ldap.group_map") && kv.second.IsSequence()) {
      // ldap_group_map: [{group: "cn=payments-admins,ou=groups,dc=example,dc=org",
      //                   team: payments, role: admin}, ...]
      c.ldap.group_map.clear();
      for (const auto& m : kv.second) {
        KaasdConfig::Ldap::GroupMapEntry e;
        try {
          e.group = m["group"].as<std::string>();
          e.team = m["team"].as<std::string>();
          e.role = m["role"].as<std::string>();
        } catch (const YAML::Exception&) {
          return InvalidArgument(key, "each " + key + " entry needs group, team and role");
        }
        c.ldap.group_map.push_back(e);
      }
    } else if (key == "hypervisors" && kv.second.IsSequence()) {
      // hypervisors: [{name: hv1, uri: "qemu:///system", vcpus: 2, memory_gib: 16}, ...]
      for (const auto& h : kv.second) {
        KaasdConfig::HypervisorEntry e;
        try {
          e.name = h["name"].as<std::string>();
          e.uri = h["uri"].as<std::string>();
          e.vcpus = h["vcpus"] ? h["vcpus"].as<int>() : 2;
          e.memory_gib = h["memory_gib"] ? h["memory_gib"].as<int>() : 16;
        } catch (const YAML::Exception&) {
          return InvalidArgument(key, "each hypervisor needs name and uri (vcpus, memory_gib)");
        }
        if (e.name.empty() || e.uri.empty())
          return InvalidArgument(key, "each hypervisor needs name and uri");
        c.hypervisors.push_back(e);
      }
    } else if (kv.second.IsScalar()) {
      KAAS_RETURN_IF_ERROR(Apply(c, key, kv.second.Scalar()));
    } else {
      return InvalidArgument(key, key + " must be a scalar or a map");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string KaasdConfig::host() const { return listen.substr(0, listen.rfind(':')); }

int KaasdConfig::port() const {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return -1;
  try {
    return std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return -1;
  }
}

const char* KaasdUsage() {
  return "usage: kaasd [--listen HOST:PORT] [--data-dir DIR] [--config FILE]\n"
         "             [--database URL] [--sim-delay-ms N] [--templates-dir DIR]\n"
         "             [--engine-threads N] [--session-ttl-hours N] [--web-dir DIR]\n"
         "  --listen          address to serve on (default 127.0.0.1:8080; port 0 = any)\n"
         "  --data-dir        state folder: database, simulated hypervisors, work dirs (./var)\n"
         "  --config          YAML file; every flag is also a key there (data_dir, ...)\n"
         "  --database        sqlite:///abs/path.db or postgresql://... (default: SQLite in\n"
         "                    the data dir)\n"
         "  --sim-delay-ms    each simulated hypervisor/bootstrap call takes N ms (default 0)\n"
         "  --web-dir         the web portal's files, served at / (default: web/ of the\n"
         "                    source tree kaasd was built from)\n"
         "  --simulated true|false, --sim-hypervisors N, --sim-hypervisor-vcpus N,\n"
         "  --sim-hypervisor-memory-gib N, --sim-hosts N, --sim-host-vcpus N,\n"
         "  --sim-host-memory-gib N    the embedded simulated datacenter (6 x 128 vCPU/512 GiB,\n"
         "                    24 hosts of 32 vCPU/128 GiB)\n"
         "  --quota-defaults.clusters N (and .vcpus, .memory_gib, .physical_hosts)\n"
         "  --bootstrap simulated|ansible  render + syntax-check only (default), or run\n"
         "                    ansible-playbook against the nodes for real\n"
         "  --guest-image DIR, --ssh-key FILE, --kubernetes-install true|false,\n"
         "  --kubernetes-binaries DIR  kaas's mirror: DIR/v<version>/{kubeadm,kubelet,kubectl,\n"
         "                    SHA256SUMS} (default /var/cache/kaas/kubernetes)\n"
         "  --vm-pool-dir DIR, --vm-boot-timeout-seconds N, --vm-max-vcpus N,\n"
         "  --vm-max-memory-mib N, --ansible-timeout-seconds N   real VMs (docs/real-vms.md);\n"
         "                    real hypervisors are listed in the config file (hypervisors:)\n"
         "  --max-event-streams N   open event streams, all users together (default 256;\n"
         "                    8 per user)\n"
         "  --health-interval-s N   a health sweep over every node this often (default 10;\n"
         "                    0 = no health monitor, no automatic repair)\n"
         "  --repair-grace-s N      a node unhealthy this long gets a repair (default 60)\n"
         "  --login-max-failures-per-user N, --login-max-failures-per-address N,\n"
         "  --login-rate-window-seconds N   failed logins allowed per (user, client address)\n"
         "                    and per client address in the window (5, 20, 300)\n"
         "  --tls-cert FILE --tls-key FILE   serve HTTPS only (PEM certificate chain and key);\n"
         "                    without them kaasd serves plain HTTP (warned about off loopback)\n"
         "  --trusted-proxies CIDR,...  reverse proxies whose X-Forwarded-For names the\n"
         "                    client (default: none; the socket's peer is the client)\n"
         "  --ldap-url ldap://HOST[:PORT]|ldaps://HOST[:PORT]  company directory login for\n"
         "                    users without a local password (docs/operations.md)\n"
         "  --ldap-starttls true|false, --ldap-ca-file FILE   TLS to the directory\n"
         "  --ldap-bind-dn DN --ldap-bind-password-file FILE  service account for searches\n"
         "  --ldap-user-dn-template 'uid={username},ou=people,...'  or\n"
         "  --ldap-user-search-base DN [--ldap-user-search-filter '(uid={username})']\n"
         "  --ldap-group-search-base DN [--ldap-group-search-filter\n"
         "                    '(|(member={dn})(uniqueMember={dn}))']\n"
         "  --ldap-group-map 'GROUP_DN=TEAM:ROLE;...'  team roles from groups at each login\n"
         "  --ldap-timeout-seconds N  connecting and each directory request (default 5)\n"
         "  --replica-id NAME   this replica's name in operation leases and /readyz (default\n"
         "                    <hostname>:<pid>); several kaasd share one PostgreSQL database\n"
         "  --lease-expiry-s N  a replica's operations are taken over by another when it has\n"
         "                    not renewed their leases for N s (default 15; renewed every\n"
         "                    min(5, N/3) s)\n"
         "  --lease-poll-ms N   how often a replica looks for operations nobody holds (1000)\n"
         "  --master-key FILE   the key sealing secrets at rest (default <data-dir>/master.key,\n"
         "                    made at first start); every replica needs the same file\n"
         "environment: KAAS_ADMIN_PASSWORD sets the first admin's password\n";
}

Result<KaasdConfig> ParseKaasdConfig(int argc, char** argv, bool* help) {
  KaasdConfig c;
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_file;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return c;
    }
    if (arg.rfind("--", 0) != 0) return InvalidArgument(arg, "unexpected argument " + arg);
    std::string key = arg.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      if (i + 1 >= argc) return InvalidArgument(key, "--" + key + " needs a value");
      value = argv[++i];
    }
    if (key == "config") {
      config_file = value;
    } else {
      flags.emplace_back(key, value);
    }
  }
  if (!config_file.empty()) {
    try {
      YAML::Node root = YAML::LoadFile(config_file);
      if (root && !root.IsNull()) {
        if (!root.IsMap()) return InvalidArgument("config", config_file + " must hold a YAML map");
        KAAS_RETURN_IF_ERROR(ApplyYaml(c, root, ""));
      }
    } catch (const YAML::Exception& e) {
      return InvalidArgument("config", "cannot read " + config_file + ": " + e.what());
    }
  }
  for (const auto& [k, v] : flags) KAAS_RETURN_IF_ERROR(Apply(c, k, v));
  if (c.templates_dir.empty()) c.templates_dir = KAAS_DEFAULT_TEMPLATES_DIR;
  if (c.web_dir.empty()) c.web_dir = KAAS_DEFAULT_WEB_DIR;
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return InvalidArgument(c.tls_cert.empty() ? "tls_cert" : "tls_key",
                           "--tls-cert and --tls-key are given together");
  }
  return c;
}

}  // namespace kaas
