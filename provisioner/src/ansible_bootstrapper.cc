#include "kaas/provisioner/ansible_bootstrapper.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>

#include "kaas/common/log.h"
#include "kaas/common/strings.h"
#include "kaas/provisioner/host_keys.h"
#include "kaas/provisioner/kubernetes_config.h"
#include "kaas/provisioner/process.h"

namespace kaas::provisioner {
namespace {

metrics::Registry& RegistryOf(AnsibleOptions& options, std::unique_ptr<metrics::Registry>& own) {
  if (!options.metrics) {
    own = std::make_unique<metrics::Registry>();
    options.metrics = own.get();
  }
  return *options.metrics;
}

}  // namespace

AnsibleBootstrapper::AnsibleBootstrapper(AnsibleOptions options, NodeResolver& resolver)
    : options_(std::move(options)),
      runs_(RegistryOf(options_, own_metrics_)
                .Histogram("kaas_ansible_run_duration_seconds",
                           "ansible-playbook runs by playbook and exit status (the exit code, "
                           "timeout or cancelled).",
                           {"playbook", "status"}, metrics::LongBuckets())),
      resolver_(resolver),
      renderer_(options_.templates_dir) {}

namespace {

// A run asks where each node is three times (inventory, kubeadm files, known_hosts); for a VM
// that is a libvirt lookup. Asked once per node and run.
class ResolvedOnce final : public NodeResolver {
 public:
  explicit ResolvedOnce(NodeResolver& resolver) : resolver_(resolver) {}
  Result<NodeAccess> Resolve(const std::string& cluster_id, const BootstrapNode& node) override {
    auto it = seen_.find(node.name);
    if (it == seen_.end()) it = seen_.emplace(node.name, resolver_.Resolve(cluster_id, node)).first;
    return it->second;
  }

 private:
  NodeResolver& resolver_;
  std::map<std::string, Result<NodeAccess>> seen_;
};

}  // namespace

Result<std::string> AnsibleBootstrapper::Run(const BootstrapJob& job) {
  if (job.cancel && job.cancel->load()) {
    return Status(Code::kCancelled, job.playbook + " was stopped by a cancel");
  }
  const std::filesystem::path playbook = options_.playbooks_dir / job.playbook;
  if (!std::filesystem::exists(playbook)) {
    return Status(Code::kFailedPrecondition, "playbook " + job.playbook + " does not exist");
  }
  std::error_code ec;
  std::filesystem::create_directories(job.work_dir, ec);
  if (ec) return Internal("cannot create " + job.work_dir.string() + ": " + ec.message());
  const std::filesystem::path work = std::filesystem::absolute(job.work_dir);

  ResolvedOnce resolved(resolver_);
  KAAS_ASSIGN_OR_RETURN(std::string inventory,
                        RenderJobInventory(job, options_.inventory, resolved));
  KAAS_RETURN_IF_ERROR(WriteTextFile(work / "inventory.yml", inventory));
  KAAS_ASSIGN_OR_RETURN(std::string known_hosts, KnownHosts(job, resolved));
  KAAS_RETURN_IF_ERROR(WriteTextFile(work / "known_hosts", known_hosts));

  // ansible.cfg in the working directory (ansible-playbook reads ./ansible.cfg). SSH checks
  // every node's host key strictly against the run's known_hosts (KnownHosts), never the
  // user's own.
  std::string cfg =
      "[defaults]\n"
      "host_key_checking = True\n"
      "retry_files_enabled = False\n"
      "forks = 10\n"
      "timeout = 60\n"
      "interpreter_python = /usr/bin/python3\n"
      "[ssh_connection]\n"
      "pipelining = True\n"
      "retries = 3\n"
      // Unix socket paths are short (108 bytes): SSH control sockets go to /tmp/.kaas-ssh-cp.
      "control_path_dir = /tmp/.kaas-ssh-cp\n"
      // A run's SSH connections outlive it by a minute: the next step's run (promote after
      // join, the health gate after both) reuses them instead of a new handshake, which takes
      // seconds against a slow or emulated machine.
      // A connection whose far end vanished without a word (a guest that rebooted: QEMU's
      // forwarder keeps the host's side open) is given up after ~60 s of silence instead of
      // hanging the command on it forever (seen: the reboot module's boot-id read, 7 min+).
      "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=yes "
      "-o UserKnownHostsFile=" +
      (work / "known_hosts").string() +
      " -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4\n";
  KAAS_RETURN_IF_ERROR(WriteTextFile(work / "ansible.cfg", cfg));

  // The kubeadm configurations travel with the run's other files (0600, removed afterwards).
  BootstrapJob staged_job = job;
  KAAS_ASSIGN_OR_RETURN(auto kubernetes, RenderKubernetesFiles(job, resolved, renderer_));
  staged_job.files.merge(kubernetes);
  KAAS_ASSIGN_OR_RETURN(auto staged, StageFiles(staged_job));  // removed when Run returns

  std::ofstream log(work / "ansible.log", std::ios::app);
  std::mutex mu;
  std::vector<std::string> recap, notes, tail;
  bool in_recap = false;
  auto on_line = [&](const std::string& line) {
    std::lock_guard lock(mu);
    log << line << std::endl;  // flushed: the file is read while the run goes on
    log::Info("ansible", {{"operation", job.operation_id},
                          {"cluster", job.cluster_id},
                          {"playbook", job.playbook},
                          {"line", line}});
    if (line.rfind("PLAY RECAP", 0) == 0)
      in_recap = true;
    else if (in_recap && line.find(':') != std::string::npos) {
      std::string compact;  // "m1 : ok=5 changed=2 unreachable=0 failed=0 ..."
      for (char ch : line) {
        if (ch == ' ' && !compact.empty() && compact.back() == ' ') continue;
        compact += ch;
      }
      recap.push_back(compact);
    }
    if (auto p = line.find("KAAS-NOTE: "); p != std::string::npos) {
      std::string note = line.substr(p + 11);
      if (auto q = note.rfind('"'); q != std::string::npos) note = note.substr(0, q);
      if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
    }
    tail.push_back(line);
    if (tail.size() > 15) tail.erase(tail.begin());
    if (job.on_output && !line.empty()) job.on_output(line);
  };
  auto start = std::chrono::steady_clock::now();
  // target_node is also an extra var: a play's `hosts:` only sees extra vars, not inventory ones.
  auto run = RunProcess({"ansible-playbook", "-i", "inventory.yml", "-e",
                         "target_node=" + Join(job.targets, ","), playbook.string()},
                        work.string(), options_.timeout_seconds * 1000, on_line, job.cancel);
  if (!run.ok()) return run.status();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  runs_.Observe({job.playbook, run->cancelled   ? "cancelled"
                               : run->timed_out ? "timeout"
                                                : std::to_string(run->exit_code)},
                secs);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", secs);
  if (run->cancelled) return Status(Code::kCancelled, job.playbook + " was stopped by a cancel");
  if (run->timed_out) {
    return Unavailable("ansible-playbook " + job.playbook + " timed out after " +
                       std::to_string(options_.timeout_seconds) + " s");
  }
  if (run->exit_code != 0) {
    return Status(Code::kFailedPrecondition, "ansible-playbook " + job.playbook + " failed (exit " +
                                                 std::to_string(run->exit_code) +
                                                 "): " + Join(tail, "\n"));
  }
  std::string msg = "ansible-playbook " + job.playbook + " ran on " + Join(job.targets, ", ") +
                    " in " + took + ": " + Join(recap, "; ");
  if (!notes.empty()) msg += "; " + Join(notes, "; ");
  return msg;
}

Result<std::string> AnsibleBootstrapper::KnownHosts(const BootstrapJob& job,
                                                    NodeResolver& resolver) {
  std::string out;
  for (const auto& n : job.nodes) {
    KAAS_ASSIGN_OR_RETURN(NodeAccess a, resolver.Resolve(job.cluster_id, n));
    if (a.host.empty()) continue;  // not placed yet: never contacted
    std::string key = a.host_key;
    const bool target =
        std::find(job.targets.begin(), job.targets.end(), n.name) != job.targets.end();
    if (key.empty()) {
      // kaas's first contact with this machine (a physical host registered without its key, a
      // VM made before kaas recorded keys): the key it presents now is pinned, and strictly
      // checked from here on.
      auto seen = ScanHostKey(a.host, a.ssh_port, 20);
      if (!seen.ok()) {
        if (!target) continue;  // a node this run may not need (down, being repaired)
        return Unavailable("cannot read the SSH host key of " + n.name + " at " + a.host + ":" +
                           std::to_string(a.ssh_port) + ": " + seen.status().message());
      }
      if (job.pin_host_key) {
        KAAS_ASSIGN_OR_RETURN(bool pinned, job.pin_host_key(n.name, *seen));
        if (!pinned) {
          return Status(Code::kFailedPrecondition,
                        "the SSH host key of " + n.name + " changed while kaas pinned it");
        }
      }
      log::Info("SSH host key pinned at first contact",
                {{"cluster", job.cluster_id}, {"node", n.name}, {"host_key", *seen}});
      key = *seen;
    }
    out += KnownHostsLine(a.host, a.ssh_port, key) + "\n";
  }
  return out;
}

// etcd-status.yml prints etcdctl's two JSON answers base64-encoded after these markers.
Result<EtcdView> AnsibleBootstrapper::AskEtcd(const BootstrapJob& job) {
  if (job.targets.size() != 1) return InvalidArgument("targets", "etcd is asked on one member");
  BootstrapJob ask = job;
  ask.playbook = "etcd-status.yml";
  ask.files.clear();
  std::mutex mu;
  std::map<std::string, std::string> answers;
  ask.on_output = [&](const std::string& line) {
    {
      std::lock_guard lock(mu);
      for (const char* marker : {"KAAS-ETCD-MEMBERS: ", "KAAS-ETCD-HEALTH: "}) {
        auto p = line.find(marker);
        if (p == std::string::npos) continue;
        p += std::strlen(marker);
        auto end = line.find_first_of(" \"", p);
        answers[marker] = line.substr(p, end == std::string::npos ? std::string::npos : end - p);
      }
    }
    if (job.on_output) job.on_output(line);
  };
  KAAS_ASSIGN_OR_RETURN(std::string ran, Run(ask));
  std::lock_guard lock(mu);
  if (answers.size() != 2) return Internal("etcd-status.yml did not report etcd's answers: " + ran);
  auto decode = [](const std::string& b64) {
    std::vector<unsigned char> bytes = YAML::DecodeBase64(b64);
    return std::string(bytes.begin(), bytes.end());
  };
  KAAS_ASSIGN_OR_RETURN(EtcdView view, ParseEtcdAnswers(decode(answers["KAAS-ETCD-MEMBERS: "]),
                                                        decode(answers["KAAS-ETCD-HEALTH: "])));
  view.asked = job.targets[0];
  return view;
}

}  // namespace kaas::provisioner
