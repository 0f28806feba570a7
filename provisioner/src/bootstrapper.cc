#include "kaas/provisioner/bootstrapper.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "kaas/provisioner/process.h"

namespace kaas::provisioner {
namespace {

Status WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Internal("cannot write " + path.string());
  out << content;
  return out ? Status::Ok() : Internal("cannot write " + path.string());
}

std::string Inventory(const BootstrapJob& job) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "all" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "vars" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster_id" << YAML::Value << job.cluster_id;
  out << YAML::Key << "cluster_name" << YAML::Value << job.cluster_name;
  out << YAML::Key << "kubernetes_version" << YAML::Value << job.kubernetes_version;
  for (const auto& [k, v] : job.extra_vars) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
  out << YAML::Key << "children" << YAML::Value << YAML::BeginMap;
  for (const char* group : {"masters", "workers"}) {
    std::string role = std::string(group).substr(0, std::string(group).size() - 1);
    out << YAML::Key << group << YAML::Value << YAML::BeginMap << YAML::Key << "hosts"
        << YAML::Value << YAML::BeginMap;
    for (const auto& n : job.nodes) {
      if (n.role != role) continue;
      out << YAML::Key << n.name << YAML::Value << YAML::BeginMap << YAML::Key << "ansible_host"
          << YAML::Value << n.address << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::Key << "etcd_voters" << YAML::Value << YAML::BeginMap << YAML::Key << "hosts"
      << YAML::Value << YAML::BeginMap;
  for (const auto& n : job.nodes) {
    if (n.etcd_voter) out << YAML::Key << n.name << YAML::Value << YAML::BeginMap << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap;
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  return out.c_str();
}

}  // namespace

StagedFiles::~StagedFiles() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Result<std::unique_ptr<StagedFiles>> StageFiles(const BootstrapJob& job) {
  namespace fs = std::filesystem;
  auto staged = std::make_unique<StagedFiles>(fs::absolute(job.work_dir / "files"));
  std::error_code ec;
  fs::remove_all(staged->dir(), ec);  // a run killed before its cleanup left it
  for (const auto& [name, content] : job.files) {
    fs::path rel = fs::path(name).lexically_normal();
    if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
      return InvalidArgument("files", "file path " + name + " leaves the staging folder");
    }
    fs::path path = staged->dir() / rel;
    for (fs::path d = path.parent_path(); !fs::exists(d); d = d.parent_path()) {
      fs::create_directories(d, ec);
      if (ec) return Internal("cannot create " + d.string() + ": " + ec.message());
    }
    fs::permissions(staged->dir(), fs::perms::owner_all, ec);
    {
      std::ofstream touch(path, std::ios::trunc);  // created empty, then narrowed, then filled
      if (!touch) return Internal("cannot write " + path.string());
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, ec);
    if (ec) return Internal("cannot restrict " + path.string() + ": " + ec.message());
    KAAS_RETURN_IF_ERROR(WriteFile(path, content));
  }
  return staged;
}

SyntaxCheck CheckPlaybooks(const std::filesystem::path& dir) {
  SyntaxCheck check;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yml") check.playbooks.push_back(entry.path().filename());
  }
  std::sort(check.playbooks.begin(), check.playbooks.end());
  if (check.playbooks.empty()) {
    check.status = NotFound("no playbooks in " + dir.string());
    return check;
  }
  std::vector<std::string> argv = {"ansible-playbook", "--syntax-check", "-i", "localhost,", "-e",
                                   "target_node=all"};
  argv.insert(argv.end(), check.playbooks.begin(), check.playbooks.end());
  auto run = RunProcess(argv, dir.string(), 120000);
  if (!run.ok()) {
    check.status = run.status();
  } else if (run->exit_code != 0) {
    check.status =
        Status(Code::kFailedPrecondition, "ansible-playbook --syntax-check failed: " + run->output);
  }
  return check;
}

SimulatedBootstrapper::SimulatedBootstrapper(const templates::Renderer& renderer,
                                             std::shared_future<SyntaxCheck> syntax,
                                             int sim_delay_ms)
    : renderer_(renderer), syntax_(std::move(syntax)), sim_delay_ms_(sim_delay_ms) {}

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
  KAAS_RETURN_IF_ERROR(WriteFile(job.work_dir / "inventory.yml", Inventory(job)));
  KAAS_ASSIGN_OR_RETURN(auto staged, StageFiles(job));

  std::string etcd_endpoints;
  for (const auto& n : job.nodes) {
    if (n.role != "master") continue;
    if (!etcd_endpoints.empty()) etcd_endpoints += ", ";
    etcd_endpoints += "\"https://" + n.address + ":2379\"";
  }
  auto kubeadm =
      renderer_.Render("kubeadm/cluster-config.yaml",
                       {{"cluster_name", job.cluster_name},
                        {"kubernetes_version", job.kubernetes_version},
                        {"control_plane_endpoint", job.cluster_name + ".kaas.internal:6443"},
                        {"etcd_endpoints", etcd_endpoints}});
  if (!kubeadm.ok()) return kubeadm.status();
  try {
    YAML::Load(*kubeadm);
  } catch (const YAML::Exception& e) {
    return Internal(std::string("rendered kubeadm config is not valid YAML: ") + e.what());
  }
  KAAS_RETURN_IF_ERROR(WriteFile(job.work_dir / "kubeadm-config.yaml", *kubeadm));

  for (const auto& target : job.targets) {
    auto node = std::find_if(job.nodes.begin(), job.nodes.end(),
                             [&](const BootstrapNode& n) { return n.name == target; });
    if (node == job.nodes.end()) return Internal("node " + target + " is not in the inventory");
    auto user_data = renderer_.Render("cloud-init/user-data",
                                      {{"cluster_name", job.cluster_name},
                                       {"cluster_id", job.cluster_id},
                                       {"node_name", node->name},
                                       {"role", node->role},
                                       {"kubernetes_version", job.kubernetes_version},
                                       {"ssh_public_key", "ssh-ed25519 SIMULATED kaas"}});
    if (!user_data.ok()) return user_data.status();
    try {
      YAML::Load(*user_data);
    } catch (const YAML::Exception& e) {
      return Internal(std::string("rendered cloud-init is not valid YAML: ") + e.what());
    }
    KAAS_RETURN_IF_ERROR(WriteFile(job.work_dir / (node->name + ".user-data"), *user_data));
  }
  return "simulated: rendered inventory, kubeadm config and cloud-init for " +
         std::to_string(job.targets.size()) + " node(s)" +
         (job.files.empty() ? ""
                            : " and staged " + std::to_string(job.files.size()) + " TLS file(s)") +
         "; " + job.playbook +
         " passed ansible-playbook --syntax-check; nothing was executed on a real machine";
}

}  // namespace kaas::provisioner
