#include "kaas/provisioner/cloud_init.h"

#include <yaml-cpp/yaml.h>

namespace kaas::provisioner {
namespace {

// `text` with every line after the first indented like the first (6 spaces in the template):
// one block scalar in the YAML.
std::string Indented(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out += "      ";
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out;
}

}  // namespace

Result<std::string> RenderUserData(const templates::Renderer& renderer, const CloudInit& c) {
  KAAS_ASSIGN_OR_RETURN(
      std::string user_data,
      renderer.Render("cloud-init/user-data", {{"cluster_name", c.cluster_name},
                                               {"cluster_id", c.cluster_id},
                                               {"node_name", c.node_name},
                                               {"role", c.role},
                                               {"kubernetes_version", c.kubernetes_version},
                                               {"ssh_public_key", c.ssh_public_key},
                                               {"host_private_key", Indented(c.host_private_key)},
                                               {"host_public_key", c.host_public_key}}));
  try {
    YAML::Node doc = YAML::Load(user_data);
    std::string key = doc["ssh_keys"]["ed25519_private"].as<std::string>();
    std::string want = c.host_private_key;
    while (!want.empty() && want.back() == '\n') want.pop_back();
    while (!key.empty() && key.back() == '\n') key.pop_back();
    if (key != want) return Internal("rendered cloud-init changes the host key");
  } catch (const YAML::Exception& e) {
    return Internal(std::string("rendered cloud-init is not valid YAML: ") + e.what());
  }
  return user_data;
}

}  // namespace kaas::provisioner
