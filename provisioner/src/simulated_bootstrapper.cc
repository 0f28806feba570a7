#include "kaas/provisioner/simulated_bootstrapper.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <thread>

#include "kaas/provisioner/cloud_init.h"
#include "kaas/provisioner/kubernetes_config.h"

namespace kaas::provisioner {

SimulatedBootstrapper::SimulatedBootstrapper(const templates::Renderer& renderer,
                                             std::shared_future<SyntaxCheck> syntax,
                                             int sim_delay_ms, InventoryOptions inventory)
    : renderer_(renderer),
      syntax_(std::move(syntax)),
      sim_delay_ms_(sim_delay_ms),
      inventory_(std::move(inventory)) {}

Result<std::string> SimulatedBootstrapper::Run(const BootstrapJob& job) {
  // The simulated run takes sim_delay_ms, and a cancel interrupts it like it would terminate
  // ansible-playbook.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(sim_delay_ms_);
  while (std::chrono::steady_clock::now() < until) {
    if (job.cancel && job.cancel->load()) {
      return Status(Code::kCancelled, job.playbook + " was stopped by a cancel");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(sim_delay_ms_, 20)));
  }
  if (job.cancel && job.cancel->load()) {
    return Status(Code::kCancelled, job.playbook + " was stopped by a cancel");
  }
  const SyntaxCheck& check = syntax_.get();
  if (!check.status.ok()) return check.status;
  if (std::find(check.playbooks.begin(), check.playbooks.end(), job.playbook) ==
      check.playbooks.end()) {
    return Status(Code::kFailedPrecondition, "playbook " + job.playbook + " does not exist");
  }

  std::error_code ec;
  std::filesystem::create_directories(job.work_dir, ec);
  if (ec) return Internal("cannot create " + job.work_dir.string() + ": " + ec.message());
  KAAS_ASSIGN_OR_RETURN(std::string inventory, RenderJobInventory(job, inventory_, addresses_));
  try {
    const YAML::Node parsed = YAML::Load(inventory);
    for (const auto& target : job.targets) {
      bool found = false;
      for (const char* group : {"masters", "workers"}) {
        found = found || parsed["all"]["children"][group]["hosts"][target].IsDefined();
      }
      if (!found) return Internal("node " + target + " is not in the inventory");
    }
  } catch (const YAML::Exception& e) {
    return Internal(std::string("rendered inventory is not valid YAML: ") + e.what());
  }
  KAAS_RETURN_IF_ERROR(WriteTextFile(job.work_dir / "inventory.yml", inventory));
  // The kubeadm files a real run would ship, rendered and checked the same way; written next
  // to the inventory (the simulation runs no kubeadm), staged with the run's other files.
  BootstrapJob staged_job = job;
  KAAS_ASSIGN_OR_RETURN(auto kubernetes, RenderKubernetesFiles(job, addresses_, renderer_));
  for (const auto& [path, text] : kubernetes) {
    if (path == "kubeadm/token") continue;
    KAAS_RETURN_IF_ERROR(WriteTextFile(
        job.work_dir / ("kubeadm-" + std::filesystem::path(path).filename().string()), text));
  }
  staged_job.files.merge(kubernetes);
  KAAS_ASSIGN_OR_RETURN(auto staged, StageFiles(staged_job));

  for (const auto& target : job.targets) {
    auto node = std::find_if(job.nodes.begin(), job.nodes.end(),
                             [&](const BootstrapNode& n) { return n.name == target; });
    if (node == job.nodes.end()) return Internal("node " + target + " is not in the inventory");
    // A real VM's seed carries a host key made for it (GenerateHostKey); the simulation renders
    // the same user-data with a stand-in of the same shape.
    auto user_data = RenderUserData(
        renderer_,
        {job.cluster_name, job.cluster_id, node->name, node->role, job.kubernetes_version,
         "ssh-ed25519 SIMULATED kaas",
         "-----BEGIN OPENSSH PRIVATE KEY-----\nSIMULATED\n-----END OPENSSH PRIVATE KEY-----\n",
         "ssh-ed25519 SIMULATED"});
    if (!user_data.ok()) return user_data.status();
    KAAS_RETURN_IF_ERROR(WriteTextFile(job.work_dir / (node->name + ".user-data"), *user_data));
  }
  return "simulated: rendered inventory, kubeadm config and cloud-init for " +
         std::to_string(job.targets.size()) + " node(s)" +
         (job.files.empty() ? ""
                            : " and staged " + std::to_string(job.files.size()) + " TLS file(s)") +
         "; " + job.playbook +
         " passed ansible-playbook --syntax-check; nothing was executed on a real machine";
}

Result<EtcdView> SimulatedBootstrapper::AskEtcd(const BootstrapJob& job) {
  if (job.cancel && job.cancel->load()) {
    return Status(Code::kCancelled, "asking etcd was stopped by a cancel");
  }
  if (job.targets.size() != 1) return InvalidArgument("targets", "etcd is asked on one member");
  EtcdView view{job.targets[0], {}};
  bool voter = false;
  for (const auto& n : job.nodes) {
    if (n.role != "master" || !(n.etcd_voter || n.etcd_learner)) continue;
    if (n.name == view.asked) voter = n.etcd_voter;
    const std::string host = n.address.empty() ? n.name : n.address;
    view.members.push_back({n.name, "https://" + host + ":2380", "https://" + host + ":2379",
                            !n.etcd_voter, true, ""});
  }
  if (!voter) {
    return Status(Code::kFailedPrecondition, view.asked + " is not a voting etcd member");
  }
  return view;
}

}  // namespace kaas::provisioner
