#pragma once

#include <future>
#include <string>

#include "kaas/provisioner/ansible_inventory.h"
#include "kaas/provisioner/bootstrapper.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

// The embedded default's bootstrap: renders every artifact a real run would use (the same
// inventory as AnsibleBootstrapper, with the nodes' registered addresses; cloud-init user-data
// per node, kubeadm cluster config) into the job's work directory, validates them, and requires
// the playbook to have passed `ansible-playbook --syntax-check`. Nothing is executed on a
// machine, and the returned message says so. Its etcd answers from kaas's own record of the
// job's nodes: every voter and learner a member, each healthy.
class SimulatedBootstrapper : public Bootstrapper {
 public:
  // `syntax` resolves to the check of templates/ansible, run once in the background.
  SimulatedBootstrapper(const templates::Renderer& renderer, std::shared_future<SyntaxCheck> syntax,
                        int sim_delay_ms, InventoryOptions inventory = {});
  Result<std::string> Run(const BootstrapJob& job) override;
  Result<EtcdView> AskEtcd(const BootstrapJob& job) override;

 private:
  const templates::Renderer& renderer_;
  std::shared_future<SyntaxCheck> syntax_;
  int sim_delay_ms_;
  InventoryOptions inventory_;
  AddressResolver addresses_;
};

}  // namespace kaas::provisioner
