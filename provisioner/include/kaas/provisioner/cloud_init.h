#pragma once

#include <string>

#include "kaas/common/status.h"
#include "kaas/templates/renderer.h"

namespace kaas::provisioner {

// What a node's cloud-init user-data (templates/cloud-init/user-data) says: who it is, who may
// log in, and the SSH host key kaas made for it.
struct CloudInit {
  std::string cluster_name;
  std::string cluster_id;
  std::string node_name;
  std::string role;
  std::string kubernetes_version;
  std::string ssh_public_key;    // authorized for user "kaas"
  std::string host_private_key;  // OpenSSH format, several lines
  std::string host_public_key;   // "ssh-ed25519 AAAA..."
};

// The rendered user-data, checked to be YAML that gives the host key back unchanged. The same
// for a real VM's seed and a simulated run.
Result<std::string> RenderUserData(const templates::Renderer& renderer, const CloudInit& c);

}  // namespace kaas::provisioner
