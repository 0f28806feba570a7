#pragma once

#include <functional>
#include <string>

#include "kaas/provisioner/bootstrapper.h"
#include "kaas/provisioner/real_vm.h"

namespace kaas::provisioner {

struct AnsibleOptions {
  std::filesystem::path playbooks_dir;  // templates/ansible
  std::string ssh_user = "kaas";
  std::string ssh_private_key;      // path; its public half is in every guest's cloud-init
  bool kubernetes_install = false;  // false: kubeadm/kubelet tasks are skipped, visibly
  int timeout_seconds = 900;        // per ansible-playbook run
};

// How Ansible reaches a node: host and SSH port (VMs: 127.0.0.1 and the forwarded port), and
// the node's etcd ports as seen from the other guests (0 for hosts: the standard ports).
struct NodeAccess {
  std::string host;
  int ssh_port = 22;
  int etcd_client_port = 0;
  int etcd_peer_port = 0;
};
using NodeResolver =
    std::function<Result<NodeAccess>(const std::string& cluster_id, const BootstrapNode& node)>;

// The real bootstrap: writes inventory.yml + ansible.cfg into the job's work directory and
// runs `ansible-playbook -i inventory.yml <playbook>` as a child process (timeout, cancel:
// TERM then KILL). Every output line goes to the kaasd log and to <work_dir>/ansible.log; the
// exit status decides the step, and the message carries the PLAY RECAP.
class AnsibleBootstrapper : public Bootstrapper {
 public:
  AnsibleBootstrapper(AnsibleOptions options, NodeResolver resolver);
  Result<std::string> Run(const BootstrapJob& job) override;

 private:
  AnsibleOptions options_;
  NodeResolver resolver_;
};

}  // namespace kaas::provisioner
