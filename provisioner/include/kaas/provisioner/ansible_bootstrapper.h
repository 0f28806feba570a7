#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kaas/common/metrics.h"
#include "kaas/provisioner/ansible_inventory.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

struct AnsibleOptions {
  std::filesystem::path playbooks_dir;  // templates/ansible
  std::filesystem::path templates_dir;  // templates/ (kubeadm/*, rendered into each run's files)
  InventoryOptions inventory;
  int timeout_seconds = 900;  // per ansible-playbook run
  // Where run durations go (kaas_ansible_run_duration_seconds); nullptr: a registry of the
  // bootstrapper's own.
  metrics::Registry* metrics = nullptr;
};

// The real bootstrap: writes inventory.yml (RenderJobInventory, nodes reached as `resolver`
// says) + ansible.cfg into the job's work directory and
// runs `ansible-playbook -i inventory.yml <playbook>` as a child process (timeout, cancel:
// TERM then KILL). Every output line goes to the kaasd log and to <work_dir>/ansible.log; the
// exit status decides the step, and the message carries the PLAY RECAP.
class AnsibleBootstrapper : public Bootstrapper {
 public:
  AnsibleBootstrapper(AnsibleOptions options, NodeResolver& resolver);
  Result<std::string> Run(const BootstrapJob& job) override;
  Result<EtcdView> AskEtcd(const BootstrapJob& job) override;

 private:
  // The run's known_hosts: every placed node's host key at the address Ansible uses (a VM's
  // from its domain, a physical host's as kaas pinned it); a key not known yet is read from the
  // machine and pinned through job.pin_host_key.
  Result<std::string> KnownHosts(const BootstrapJob& job, NodeResolver& resolver);

  AnsibleOptions options_;
  std::unique_ptr<metrics::Registry> own_metrics_;  // when options_.metrics is null
  metrics::HistogramFamily& runs_;
  NodeResolver& resolver_;
  templates::Renderer renderer_;  // options_.templates_dir
};

}  // namespace kaas::provisioner
