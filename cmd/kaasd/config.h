#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/quota/quota.h"

namespace kaas {

// kaasd's configuration: YAML (--config FILE), every key also a flag (--data-dir, ...).
// Flags win over the file; the file wins over the defaults below.
struct KaasdConfig {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./var";
  std::string database;  // "" = sqlite://<data_dir>/kaas.db
  // PostgreSQL: statement_timeout, and how long kaasd waits for any answer (+5 s) before it
  // closes the connection (store::DatabaseOptions::timeout_ms).
  int database_timeout_seconds = 30;
  std::string templates_dir;
  std::string web_dir;  // the portal's files; default: web/ of the source tree
  int sim_delay_ms = 0;
  int engine_threads = 16;
  // Several replicas on one PostgreSQL (DESIGN.md §6.2): this replica's name in leases
  // ("" = <hostname>:<pid>), how long a lease lasts unrenewed, how often free work is polled.
  std::string replica_id;
  // The key sealing secrets at rest ("" = <data_dir>/master.key); the same file on every
  // replica.
  std::string master_key;
  int lease_expiry_s = 15;
  int lease_poll_ms = 1000;
  int session_ttl_hours = 12;
  int session_ttl_seconds = 0;          // overrides session_ttl_hours when set
  int login_rate_window_seconds = 300;  // failed logins are counted over this window
  int login_max_failures_per_user = 5;  // per (username, client address)
  int login_max_failures_per_address = 20;
  // PEM certificate (chain) and private key: both set = HTTPS only on `listen`.
  std::string tls_cert;
  std::string tls_key;
  // CIDRs (comma-separated) of reverse proxies whose X-Forwarded-For names the client.
  std::string trusted_proxies;
  int kubeconfig_max_ttl_hours = 168;
  int max_event_streams = 256;          // open event streams, all users together (8 per user)
  int reconcile_interval_seconds = 60;  // 0 = no periodic orphan scan
  int health_interval_s = 10;           // a health sweep this often; 0 = no health monitor
  int repair_grace_s = 60;              // unhealthy this long before an automatic repair
  bool reap_orphans = false;            // destroy orphan domains / release orphan hosts
  bool fault_injection = false;         // tests and demos: GET/PUT /api/v1/faults
  // Webhooks (DESIGN.md §6.4): loopback and link-local targets only when allowed (tests,
  // demos); delivery workers, each attempt's timeout, the first retry's delay (doubling, at
  // most an hour, for 24 h); the portal address in chat links ("" = the listen address).
  bool webhook_allow_loopback = false;
  int webhook_workers = 2;
  int webhook_timeout_ms = 5000;
  int webhook_retry_base_ms = 10000;
  std::string portal_url;
  quota::Limits quota_defaults{5, 64, 256, 0};
  // The embedded simulated datacenter (libvirt test:/// hypervisors and a host inventory).
  bool simulated = true;
  int sim_hypervisors = 6;  // a prod cluster's 5 masters apart, and one spare to repair on
  int sim_hypervisor_vcpus = 128;
  int sim_hypervisor_memory_gib = 512;
  int sim_hosts = 24;
  int sim_host_vcpus = 32;
  int sim_host_memory_gib = 128;

  // Real machines (docs/real-vms.md). Hypervisors listed here are registered at start.
  struct HypervisorEntry {
    std::string name, uri;
    int vcpus = 0, memory_gib = 0;
  };
  std::vector<HypervisorEntry> hypervisors;
  std::string bootstrap = "simulated";  // simulated | ansible
  std::string guest_image;              // folder from scripts/build-guest-image.sh
  std::string ssh_key;                  // private key; <ssh_key>.pub goes into cloud-init
  bool kubernetes_install = false;      // false: kubeadm/kubelet tasks are skipped, visibly
  std::string kubernetes_binaries = "/var/cache/kaas/kubernetes";  // mirror: v<version>/...
  std::string vm_pool_name = "kaas";
  std::string vm_pool_dir = "/var/lib/libvirt/images/kaas";
  std::string vm_console_dir = "/var/log/libvirt/kaas";
  int vm_boot_timeout_seconds = 600;
  int vm_max_vcpus = 0;  // caps for software emulation; 0 = the flavor's size
  int vm_max_memory_mib = 0;
  int ansible_timeout_seconds = 900;
  // Extra names (comma-separated IPs or DNS names) in every etcd member certificate, for the
  // address peers use when it is not the node's own (QEMU user-mode guests: 10.0.2.2).
  std::string etcd_cert_extra_names;

  // Company directory login (DESIGN.md §6.5, docs/operations.md "Company directory (LDAP)").
  // Flags --ldap-url ...; in the file ldap_url: ... or a map ldap: {url: ...}.
  struct Ldap {
    std::string url;  // "" = no directory: local users only
    bool starttls = false;
    std::string ca_file;
    std::string bind_dn;
    std::string bind_password_file;  // the secret is read from a file, never given as a flag
    std::string user_dn_template;
    std::string user_search_base;
    std::string user_search_filter = "(uid={username})";
    std::string group_search_base;
    std::string group_search_filter = "(|(member={dn})(uniqueMember={dn}))";
    int timeout_seconds = 5;
    // Group DN -> team:role. --ldap-group-map "DN=TEAM:ROLE;DN=TEAM:ROLE" (an entry splits at
    // its last '='), or in the file a list of {group, team, role}.
    struct GroupMapEntry {
      std::string group, team, role;
    };
    std::vector<GroupMapEntry> group_map;
  } ldap;

  std::string host() const;
  int port() const;
};

// Parses argv (and the --config file it names). kInvalidArgument names the bad flag or key.
// Sets *help when --help was given.
Result<KaasdConfig> ParseKaasdConfig(int argc, char** argv, bool* help);
const char* KaasdUsage();

}  // namespace kaas
