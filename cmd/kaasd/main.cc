// kaasd: wires the modules together and serves until SIGTERM/SIGINT.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <thread>

#include "config.h"
#include "kaas/api/server.h"
#include "kaas/auth/auth.h"
#include "kaas/auth/ldap_directory.h"
#include "kaas/common/clock.h"
#include "kaas/common/log.h"
#include "kaas/common/metrics.h"
#include "kaas/common/strings.h"
#include "kaas/lifecycle/cluster_service.h"
#include "kaas/lifecycle/credentials.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/lifecycle/faults.h"
#include "kaas/lifecycle/health_monitor.h"
#include "kaas/lifecycle/job_lease.h"
#include "kaas/lifecycle/reconciler.h"
#include "kaas/lifecycle/steps.h"
#include "kaas/notify/delivery.h"
#include "kaas/notify/webhooks.h"
#include "kaas/pki/secret_box.h"
#include "kaas/provisioner/ansible_bootstrapper.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/hypervisor_uri.h"
#include "kaas/provisioner/libvirt_fleet.h"
#include "kaas/provisioner/real_vm.h"
#include "kaas/provisioner/simulated_bootstrapper.h"
#include "kaas/provisioner/tcp_probe.h"
#include "kaas/quota/quota.h"
#include "kaas/store/database.h"
#include "kaas/store/file_lock.h"
#include "kaas/store/repositories.h"
#include "kaas/templates/renderer.h"

namespace fs = std::filesystem;
using namespace kaas;

namespace {

// Registers the embedded simulated datacenter: hypervisors sim-1..N, each a libvirt test:///
// driver backed by a file in the data dir, and physical hosts sim-host-01..M.
Status SeedSimulatedDatacenter(const KaasdConfig& cfg, store::Database& db, const fs::path& data) {
  const SystemClock& clock = SystemClock::Instance();
  std::vector<store::Hypervisor> hvs;
  for (int i = 1; i <= cfg.sim_hypervisors; ++i) {
    std::string name = "sim-" + std::to_string(i);
    std::string file = (data / "sim" / (name + ".xml")).string();
    KAAS_RETURN_IF_ERROR(provisioner::LibvirtFleet::CreateSimulatedHypervisorFile(
        file, cfg.sim_hypervisor_vcpus, cfg.sim_hypervisor_memory_gib));
    hvs.push_back({name, "test://" + file, cfg.sim_hypervisor_vcpus, cfg.sim_hypervisor_memory_gib,
                   "active", clock.NowMs()});
  }
  return db.Write([&](store::Tx& tx) {
    for (const auto& hv : hvs) store::hypervisors::Upsert(tx, hv);
    for (int i = 1; i <= cfg.sim_hosts; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "sim-host-%02d", i);
      store::hosts::Upsert(
          tx, {name, std::string(name) + ".sim", cfg.sim_host_vcpus, cfg.sim_host_memory_gib,
               "{\"rack\":\"sim\"}", "available", "", clock.NowMs()});
    }
    return Status::Ok();
  });
}

// Registers the hypervisors listed in the config (real libvirt URIs such as qemu:///system).
Status RegisterHypervisors(const KaasdConfig& cfg, store::Database& db) {
  if (cfg.hypervisors.empty()) return Status::Ok();
  for (const auto& h : cfg.hypervisors) {
    KAAS_RETURN_IF_ERROR(provisioner::ValidateHypervisorUri(h.uri));
  }
  const SystemClock& clock = SystemClock::Instance();
  return db.Write([&](store::Tx& tx) {
    for (const auto& h : cfg.hypervisors) {
      store::hypervisors::Upsert(tx,
                                 {h.name, h.uri, h.vcpus, h.memory_gib, "active", clock.NowMs()});
    }
    return Status::Ok();
  });
}

// 127.0.0.0/8, ::1 and localhost: plain HTTP there does not leave the machine.
bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

int Fail(const std::string& what, const Status& st) {
  log::Error(what, {{"error", st.ToString()}});
  std::cerr << "kaasd: " << what << ": " << st.ToString() << "\n";
  return 1;
}

// The company directory of --ldap-url (null without one), and its group map into `groups`.
Result<std::unique_ptr<auth::Directory>> OpenDirectory(const KaasdConfig::Ldap& cfg,
                                                       std::vector<auth::GroupMapping>* groups) {
  if (cfg.url.empty()) return std::unique_ptr<auth::Directory>();
  auth::LdapOptions o;
  o.url = cfg.url;
  o.starttls = cfg.starttls;
  o.ca_file = cfg.ca_file;
  o.bind_dn = cfg.bind_dn;
  if (!cfg.bind_password_file.empty()) {
    std::ifstream in(cfg.bind_password_file);
    if (!in || !std::getline(in, o.bind_password)) {
      return InvalidArgument("ldap_bind_password_file",
                             "cannot read the bind password from " + cfg.bind_password_file);
    }
  }
  o.user_dn_template = cfg.user_dn_template;
  o.user_search_base = cfg.user_search_base;
  o.user_search_filter = cfg.user_search_filter;
  o.group_search_base = cfg.group_search_base;
  o.group_search_filter = cfg.group_search_filter;
  o.timeout_ms = cfg.timeout_seconds * 1000;
  for (const auto& e : cfg.group_map) {
    KAAS_ASSIGN_OR_RETURN(auto mapping, auth::MakeGroupMapping(e.group, e.team, e.role));
    groups->push_back(std::move(mapping));
  }
  if (!groups->empty() && o.group_search_base.empty()) {
    return InvalidArgument("ldap_group_search_base",
                           "ldap_group_map needs ldap_group_search_base (where the groups are)");
  }
  if (cfg.url.rfind("ldap://", 0) == 0 && !cfg.starttls &&
      !IsLoopback(cfg.url.substr(7, cfg.url.find_first_of(":/", 7) - 7))) {
    log::Warn("directory passwords cross the network in clear: use ldaps:// or --ldap-starttls",
              {{"url", cfg.url}});
  }
  KAAS_ASSIGN_OR_RETURN(auto directory, auth::LdapDirectory::Create(std::move(o)));
  log::Info("company directory login enabled", {{"url", cfg.url},
                                                {"tls", cfg.url.rfind("ldaps://", 0) == 0 ? "ldaps"
                                                        : cfg.starttls ? "starttls"
                                                                       : "none"},
                                                {"mapped_groups", std::to_string(groups->size())}});
  return std::unique_ptr<auth::Directory>(std::move(directory));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::cout << "kaasd " << KAAS_VERSION << "\n";
    return 0;
  }
  bool help = false;
  auto parsed = ParseKaasdConfig(argc, argv, &help);
  if (help) {
    std::cout << KaasdUsage();
    return 0;
  }
  if (!parsed.ok()) {
    std::cerr << "kaasd: " << parsed.status().message() << "\n" << KaasdUsage();
    return 2;
  }
  const KaasdConfig cfg = std::move(parsed).value();

  // At rest (docs/security.md): what kaasd and its children (Ansible, genisoimage) create is
  // theirs alone, and the first admin's password is read once and not handed down to them.
  umask(077);
  const std::string admin_password = [] {
    const char* pw = std::getenv("KAAS_ADMIN_PASSWORD");
    std::string value = pw ? pw : "";
    unsetenv("KAAS_ADMIN_PASSWORD");
    return value;
  }();

  // SIGTERM/SIGINT are taken by a dedicated thread (sigwait), never by a handler that
  // interrupts a worker mid-step.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  fs::create_directories(cfg.data_dir, ec);
  if (ec) return Fail("cannot create data dir " + cfg.data_dir, Internal(ec.message()));
  const fs::path data = fs::weakly_canonical(fs::absolute(cfg.data_dir));
  std::string url = cfg.database.empty() ? "sqlite://" + (data / "kaas.db").string() : cfg.database;
  // Installations from before the umask keep their modes otherwise: the data dir is the owner's
  // alone, and so are the database's files (SQLite gives its journal the database's mode).
  fs::permissions(data, fs::perms::owner_all, ec);
  if (ec) return Fail("cannot restrict data dir " + data.string(), Internal(ec.message()));
  if (std::string file = store::SqlitePath(url); !file.empty()) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal", ".lock"}) {
      fs::permissions(file + suffix, fs::perms::owner_read | fs::perms::owner_write, ec);
    }
    ec.clear();
  }

  // SQLite serves one process: a second kaasd on the same file is refused here, before it
  // opens or migrates anything. The lock lasts as long as the process.
  std::optional<store::FileLock> sqlite_lock;
  if (std::string file = store::SqlitePath(url); !file.empty()) {
    auto locked = store::FileLock::Acquire(file + ".lock");
    if (!locked.ok()) return Fail("cannot use " + file, locked.status());
    sqlite_lock.emplace(std::move(locked).value());
  }
  std::string replica_id = cfg.replica_id;
  if (replica_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "localhost");
    replica_id = std::string(host) + ":" + std::to_string(getpid());
  }

  store::DatabaseOptions db_options;
  db_options.pool_size = 32;
  db_options.timeout_ms = std::max(cfg.database_timeout_seconds, 1) * int64_t{1000};
  auto opened = store::Database::Open(url, db_options);
  if (!opened.ok()) return Fail("cannot open database", opened.status());
  std::unique_ptr<store::Database> db = std::move(opened).value();
  if (Status st = db->Migrate(); !st.ok()) return Fail("migrations failed", st);
  if (cfg.simulated) {
    if (Status st = SeedSimulatedDatacenter(cfg, *db, data); !st.ok()) {
      return Fail("cannot set up the simulated datacenter", st);
    }
  }

  if (Status st = RegisterHypervisors(cfg, *db); !st.ok()) {
    return Fail("cannot register the configured hypervisors", st);
  }

  const SystemClock& clock = SystemClock::Instance();
  // Counters and histograms the engine, the bootstrapper and the API record into; GET /metrics
  // renders them with the database's gauges.
  metrics::Registry metrics;
  auth::AuthOptions auth_options;
  auth_options.session_ttl_ms = cfg.session_ttl_seconds > 0
                                    ? int64_t{cfg.session_ttl_seconds} * 1000
                                    : int64_t{cfg.session_ttl_hours} * 3600 * 1000;
  auth_options.rate_limit = {cfg.login_max_failures_per_user, cfg.login_max_failures_per_address,
                             int64_t{cfg.login_rate_window_seconds} * 1000};
  auto directory = OpenDirectory(cfg.ldap, &auth_options.directory_groups);
  if (!directory.ok()) return Fail("cannot set up the company directory", directory.status());
  auth::AuthService auth(*db, clock, auth_options, directory->get());
  auto admin = auth.BootstrapAdmin(admin_password);
  if (!admin.ok()) return Fail("cannot create the admin user", admin.status());

  // Master key for secrets at rest (cluster CA keys), created at first start with mode 0600.
  const std::string key_path =
      cfg.master_key.empty() ? (data / "master.key").string() : cfg.master_key;
  auto box = pki::SecretBox::LoadOrCreate(key_path);
  if (!box.ok()) return Fail("cannot load the master key", box.status());
  if (Status st = lifecycle::CheckSealingKey(*db, *box, key_path); !st.ok()) {
    return Fail("wrong master key", st);
  }

  templates::Renderer renderer(cfg.templates_dir);
  // The playbooks are syntax-checked once, in the background, with the real ansible-playbook.
  std::shared_future<provisioner::SyntaxCheck> syntax =
      std::async(std::launch::async, [dir = fs::path(cfg.templates_dir) / "ansible"] {
        return provisioner::CheckPlaybooks(dir);
      }).share();
  // Real VMs (hypervisors with non-test URIs): guest image, pool, SSH key.
  provisioner::LibvirtOptions libvirt_options;
  libvirt_options.sim_delay_ms = cfg.sim_delay_ms;
  provisioner::RealVmOptions& real_vm = libvirt_options.real_vm;
  real_vm.guest_image_dir = cfg.guest_image;
  real_vm.pool_name = cfg.vm_pool_name;
  real_vm.pool_dir = cfg.vm_pool_dir;
  real_vm.console_dir = cfg.vm_console_dir;
  real_vm.boot_timeout_seconds = cfg.vm_boot_timeout_seconds;
  real_vm.max_vcpus = cfg.vm_max_vcpus;
  real_vm.max_memory_mib = cfg.vm_max_memory_mib;
  if (!cfg.ssh_key.empty()) {
    std::ifstream pub(cfg.ssh_key + ".pub");
    std::getline(pub, real_vm.ssh_public_key);
    if (real_vm.ssh_public_key.empty()) {
      return Fail("cannot read " + cfg.ssh_key + ".pub", Internal("missing public key"));
    }
  }
  provisioner::LibvirtFleet libvirt(renderer, libvirt_options);
  // With --fault-injection, hypervisor calls and steps go through the fault injector.
  lifecycle::FaultInjector faults;
  lifecycle::FaultyFleet faulty(libvirt, faults);
  provisioner::Fleet& fleet = cfg.fault_injection ? static_cast<provisioner::Fleet&>(faulty)
                                                  : static_cast<provisioner::Fleet&>(libvirt);
  provisioner::InventoryOptions inventory;
  inventory.ssh_private_key = cfg.ssh_key.empty() ? "" : fs::absolute(cfg.ssh_key).string();
  inventory.kubernetes_install = cfg.kubernetes_install;
  inventory.kubernetes_binaries = fs::absolute(cfg.kubernetes_binaries).string();
  provisioner::SimulatedBootstrapper simulated_bootstrapper(renderer, syntax, cfg.sim_delay_ms,
                                                            inventory);
  // Ansible reaches a VM of a configured hypervisor through the ports QEMU forwards.
  std::vector<provisioner::HypervisorUri> configured;
  for (const auto& h : cfg.hypervisors) configured.push_back({h.name, h.uri});
  provisioner::VmNodeResolver resolver(libvirt, std::move(configured));
  provisioner::AnsibleBootstrapper ansible_bootstrapper(
      {fs::absolute(fs::path(cfg.templates_dir) / "ansible"), fs::absolute(cfg.templates_dir),
       inventory, cfg.ansible_timeout_seconds, &metrics},
      resolver);
  provisioner::Bootstrapper& bootstrapper =
      cfg.bootstrap == "ansible" ? static_cast<provisioner::Bootstrapper&>(ansible_bootstrapper)
                                 : static_cast<provisioner::Bootstrapper&>(simulated_bootstrapper);
  std::vector<std::string> etcd_names = Split(cfg.etcd_cert_extra_names, ',');
  lifecycle::ClusterSteps steps(
      {*db, fleet, bootstrapper, data / "work", clock, *box, std::move(etcd_names)});
  lifecycle::EngineOptions engine_options;
  engine_options.threads = static_cast<size_t>(std::max(cfg.engine_threads, 1));
  engine_options.metrics = &metrics;
  engine_options.replica_id = replica_id;
  engine_options.lease_expiry_ms = int64_t{std::max(cfg.lease_expiry_s, 1)} * 1000;
  engine_options.lease_poll_ms = std::max(cfg.lease_poll_ms, 50);
  if (cfg.fault_injection) engine_options.hooks = std::make_shared<lifecycle::FaultHooks>(faults);
  lifecycle::Engine engine(*db, steps, clock, engine_options);
  quota::QuotaService quota(cfg.quota_defaults);
  quota::TeamQuotas team_quotas(*db, quota, clock);
  auth::TeamService teams(*db, clock);
  auth::AuditLog audit(*db);
  provisioner::DatabaseInventory machines(*db, clock);
  lifecycle::ClusterService clusters(*db, quota, engine, clock);
  lifecycle::ClusterQueries queries(*db);
  lifecycle::CredentialOptions credential_options{24, int64_t{cfg.kubeconfig_max_ttl_hours}, {}};
  if (!cfg.simulated) {
    // A kubeconfig names the API where this machine reaches it (a VM's forwarded port).
    credential_options.api_server_url = [&resolver](const store::Node& n) -> Result<std::string> {
      KAAS_ASSIGN_OR_RETURN(provisioner::NodeAccess a,
                            resolver.Resolve(n.cluster_id, {n.name, n.role, n.address}));
      return provisioner::ApiServerUrl(a);
    };
  }
  lifecycle::CredentialService credentials(*db, *box, clock, std::move(credential_options));
  lifecycle::Reconciler reconciler(*db, fleet);
  // Background jobs run on one replica at a time; a lease outlives a few of the job's passes.
  const int64_t lease_expiry_ms = engine_options.lease_expiry_ms;
  lifecycle::JobLease reconciler_lease(
      *db, clock, "reconciler", replica_id,
      std::max<int64_t>(lease_expiry_ms, int64_t{cfg.reconcile_interval_seconds} * 3000));
  lifecycle::JobLease health_lease(
      *db, clock, "health_monitor", replica_id,
      std::max<int64_t>(lease_expiry_ms, int64_t{std::max(cfg.health_interval_s, 1)} * 3000));
  lifecycle::HealthOptions health_options;
  health_options.interval_ms = int64_t{std::max(cfg.health_interval_s, 1)} * 1000;
  health_options.grace_ms = int64_t{std::max(cfg.repair_grace_s, 0)} * 1000;
  health_options.metrics = &metrics;
  health_options.lease = &health_lease;
  // Machines are asked only where kaas reaches them for real (Ansible over SSH). 5 s: an
  // emulated guest under load can take seconds to greet.
  lifecycle::MachineProbes probes;
  if (cfg.bootstrap == "ansible") {
    probes.ssh = [](const std::vector<std::string>& addresses) {
      return provisioner::ProbeSsh(addresses, 22, 5000);
    };
    probes.etcd = [](const std::vector<std::string>& addresses) {
      return provisioner::ProbeTls(addresses, 2379, 5000);
    };
  }
  lifecycle::HealthMonitor health(*db, fleet, clusters, clock, health_options,
                                  cfg.fault_injection ? &faults : nullptr, probes);
  notify::WebhookService webhooks(*db, clock, *box, cfg.webhook_allow_loopback);
  api::ApiDeps deps{*db,         auth,        teams,      audit,
                    team_quotas, machines,    clusters,   queries,
                    engine,      credentials, reconciler, cfg.fault_injection ? &faults : nullptr,
                    clock,       metrics,     webhooks};
  deps.readiness_checks["ansible"] = [syntax] {
    if (syntax.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      return Unavailable("ansible-playbook --syntax-check still running");
    }
    return syntax.get().status;
  };
  api::ApiOptions api_options;
  api_options.web_dir = cfg.web_dir;
  auto proxies = api::TrustedProxies::Parse(cfg.trusted_proxies);
  if (!proxies.ok()) return Fail("bad --trusted-proxies", proxies.status());
  api_options.trusted_proxies = std::move(proxies).value();
  api_options.tls_cert = cfg.tls_cert;
  api_options.tls_key = cfg.tls_key;
  api_options.max_event_streams = static_cast<size_t>(cfg.max_event_streams);
  api::ApiServer server(deps, api_options);

  if (!server.Bind(cfg.host(), cfg.port())) {
    if (!cfg.tls_cert.empty()) {
      return Fail(
          "cannot serve HTTPS on " + cfg.listen,
          Unavailable("the address is taken, or --tls-cert " + cfg.tls_cert + " / --tls-key " +
                      cfg.tls_key + " could not be loaded (PEM, readable, a matching pair)"));
    }
    return Fail("cannot listen on " + cfg.listen, Unavailable("address in use or not available"));
  }
  if (Status st = engine.Start(); !st.ok()) return Fail("engine did not start", st);
  if (cfg.reconcile_interval_seconds > 0) {
    reconciler.StartPeriodic(int64_t{cfg.reconcile_interval_seconds} * 1000, cfg.reap_orphans,
                             &reconciler_lease);
  }
  if (cfg.health_interval_s > 0) health.Start();

  const bool tls = !cfg.tls_cert.empty();
  std::string base =
      (tls ? "https://" : "http://") + cfg.host() + ":" + std::to_string(server.port());
  if (!tls && !IsLoopback(cfg.host())) {
    log::Warn(
        "serving plain HTTP on a non-loopback address: passwords, tokens and kubeconfigs "
        "cross the network unencrypted; use --tls-cert/--tls-key or a TLS proxy",
        {{"listen", cfg.listen}});
  }
  notify::DeliveryOptions delivery_options;
  delivery_options.workers = static_cast<size_t>(std::max(cfg.webhook_workers, 1));
  delivery_options.timeout_ms = std::max(cfg.webhook_timeout_ms, 100);
  delivery_options.retry_base_ms = std::max(cfg.webhook_retry_base_ms, 100);
  delivery_options.allow_loopback = cfg.webhook_allow_loopback;
  delivery_options.portal_url = cfg.portal_url.empty() ? base : cfg.portal_url;
  notify::DeliveryWorkers deliveries(*db, clock, *box, delivery_options);
  deliveries.Start();
  log::Info("kaasd listening", {{"url", base},
                                {"replica", replica_id},
                                {"database", db->sqlite() ? "sqlite" : "postgresql"},
                                {"data_dir", data.string()}});
  std::cerr << "\nkaasd is serving " << base << " (data in " << data.string() << ")\n"
            << "  portal:   " << base << "/\n"
            << "  log in:   kaas login --server " << base << " --user admin\n"
            << "  or:       curl -s -H 'Content-Type: application/json' " << base
            << "/api/v1/auth/login -d '{\"username\":\"admin\",\"password\":\"...\"}'\n";
  if (!admin->empty()) {
    std::cerr << "  admin password (generated, shown only this once): " << *admin << "\n";
  } else if (!admin_password.empty()) {
    std::cerr << "  admin password: the value of KAAS_ADMIN_PASSWORD at first start\n";
  } else {
    std::cerr << "  admin password: as printed when this data dir was first used\n";
  }
  std::cerr << std::endl;

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.Stop();
  });
  server.Serve();
  // Running operations stop at their next step boundary and resume at the next start.
  health.Stop();
  reconciler.Stop();
  deliveries.Stop();
  engine.Shutdown();
  // Another replica takes the background jobs at once, not after the leases expire.
  health_lease.Release();
  reconciler_lease.Release();
  if (waiter.joinable()) {
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
  }
  log::Info("kaasd stopped");
  return 0;
}
