#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::provisioner {

struct BootstrapNode {
  std::string name;
  std::string role;  // master | worker
  std::string address;
  bool etcd_voter = false;    // a voting etcd member now: where membership changes are run
  bool etcd_learner = false;  // added to etcd as a learner, not promoted yet
  // A physical host's SSH host key as kaas knows it ("" = not pinned yet; VMs carry theirs in
  // their domain, found by the resolver).
  std::string host_key;
};

// One etcd member as etcd itself reports it.
struct EtcdMember {
  std::string name;  // "" for a learner whose etcd has not started yet
  std::string peer_url;
  std::string client_url;  // "" until the member has started
  bool learner = false;
  bool healthy = false;  // its client endpoint answered `etcdctl endpoint health`
  std::string error;     // why not, as etcdctl said
};

// What etcd answered, asked on one member: its member list and every member's health.
struct EtcdView {
  std::string asked;  // the node that was asked
  std::vector<EtcdMember> members;
};

// etcdctl's JSON answers (`member list -w json`, `endpoint health --cluster -w json`) as an
// EtcdView; kInvalidArgument (field "etcd") when either is not what etcdctl prints.
Result<EtcdView> ParseEtcdAnswers(const std::string& member_list_json,
                                  const std::string& endpoint_health_json);

// One Ansible run: a playbook from templates/ansible against an inventory of the cluster's
// nodes, in its own work directory.
struct BootstrapJob {
  std::string playbook;  // "bootstrap-master.yml"
  std::string cluster_id;
  std::string cluster_name;
  std::string team_name;     // the owning team: its groups are bound in the cluster's RBAC
  std::string operation_id;  // for the log lines of the run
  std::string kubernetes_version;
  std::vector<BootstrapNode> nodes;  // the whole cluster, for the inventory
  std::vector<std::string> targets;  // the nodes this run is about
  std::filesystem::path work_dir;
  std::map<std::string, std::string> extra_vars;  // e.g. kubernetes_version of an upgrade
  // Secret material the playbook copies to the nodes, by relative path ("etcd/m1.key" -> PEM).
  // Present on disk (<work_dir>/files, mode 0600) only while the run lasts; the playbooks
  // see the folder as the variable `kaas_files_dir`.
  std::map<std::string, std::string> files;
  // Called with every line the run prints (from the runner's threads), for the step's log.
  std::function<void(const std::string&)> on_output;
  // Set when the operation is cancelled: the run stops (the child process is terminated) and
  // Run returns kCancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Pins the host key seen at kaas's first contact with a node that has none yet (a physical
  // host registered without one): false when another key was pinned meanwhile (the run is
  // refused). Unset: such a node cannot be reached.
  std::function<Result<bool>(const std::string& node, const std::string& host_key)> pin_host_key;
};

class Bootstrapper {
 public:
  virtual ~Bootstrapper() = default;
  // Runs the job; returns what the step should tell the user. Must be idempotent.
  virtual Result<std::string> Run(const BootstrapJob& job) = 0;
  // Asks etcd itself, on job.targets[0] (a voting member), for its member list and the health
  // of every member (the playbook is etcd-status.yml; job.playbook is ignored). Changes nothing.
  virtual Result<EtcdView> AskEtcd(const BootstrapJob& job) = 0;
};

// job.files on disk for one run: <work_dir>/files (0700), each file 0600. The destructor
// removes the folder again, so private keys never outlive the run that needed them.
class StagedFiles {
 public:
  explicit StagedFiles(std::filesystem::path dir) : dir_(std::move(dir)) {}
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  ~StagedFiles();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};
// kInvalidArgument for a path that is absolute or leaves the folder ("..").
Result<std::unique_ptr<StagedFiles>> StageFiles(const BootstrapJob& job);

// Writes `content` to `path`, replacing what was there.
Status WriteTextFile(const std::filesystem::path& path, const std::string& content);

// Result of `ansible-playbook --syntax-check` over every playbook in a folder.
struct SyntaxCheck {
  Status status;
  std::vector<std::string> playbooks;
};

// Runs ansible-playbook --syntax-check on every *.yml in `dir` (one child process).
SyntaxCheck CheckPlaybooks(const std::filesystem::path& dir);

}  // namespace kaas::provisioner
