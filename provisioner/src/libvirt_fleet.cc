#include "kaas/provisioner/libvirt_fleet.h"

#include <filesystem>

#include "libvirt_connection.h"
#include "qemu_hypervisor.h"
#include "simulated_hypervisor.h"

namespace kaas::provisioner {
namespace {

constexpr std::string_view kTestPrefix = "test://";

bool Simulated(const std::string& uri) { return uri.rfind(kTestPrefix, 0) == 0; }

}  // namespace

std::string DomainName(const std::string& cluster_id, const std::string& node_name) {
  return "kaas-" + cluster_id + "-" + node_name;
}

LibvirtFleet::LibvirtFleet(const templates::Renderer& renderer, LibvirtOptions options)
    : renderer_(renderer), options_(std::move(options)) {
  libvirt::InitOnce();
}

LibvirtFleet::~LibvirtFleet() = default;

Result<Hypervisor*> LibvirtFleet::Get(const std::string& name, const std::string& uri) {
  KAAS_ASSIGN_OR_RETURN(Entry * entry, GetEntry(name, uri));
  return entry->hypervisor.get();
}

Result<LibvirtFleet::Entry*> LibvirtFleet::GetEntry(const std::string& name,
                                                    const std::string& uri) {
  std::lock_guard lock(mu_);
  if (auto it = hypervisors_.find(name); it != hypervisors_.end()) return &it->second;
  KAAS_RETURN_IF_ERROR(ValidateHypervisorUri(uri));
  std::string state_file;
  if (Simulated(uri) && uri != "test:///default") {
    state_file = uri.substr(kTestPrefix.size());
    if (!std::filesystem::exists(state_file)) {
      return Status(Code::kUnavailable, "simulated hypervisor file " + state_file + " is missing");
    }
  }
  KAAS_ASSIGN_OR_RETURN(auto conn, libvirt::Connection::Open(uri, name + " (" + uri + ")"));
  Entry entry;
  if (Simulated(uri)) {
    entry.hypervisor = std::make_unique<SimulatedHypervisor>(name, uri, std::move(conn), state_file,
                                                             renderer_, options_.sim_delay_ms);
  } else {
    auto qemu =
        std::make_unique<QemuHypervisor>(name, std::move(conn), renderer_, options_.real_vm);
    entry.qemu = qemu.get();
    entry.hypervisor = std::move(qemu);
  }
  return &(hypervisors_[name] = std::move(entry));
}

Result<NodeAccess> LibvirtFleet::FindVmEndpoint(const std::string& name, const std::string& uri,
                                                const std::string& domain_name) {
  if (Simulated(uri)) return NotFound("hypervisor " + name + " is simulated: no forwarded ports");
  KAAS_ASSIGN_OR_RETURN(Entry * entry, GetEntry(name, uri));
  if (!entry->qemu) return NotFound("hypervisor " + name + " is simulated: no forwarded ports");
  return entry->qemu->Endpoint(domain_name);
}

Status LibvirtFleet::CreateSimulatedHypervisorFile(const std::string& path, int64_t vcpus,
                                                   int64_t memory_gib) {
  return SimulatedHypervisor::CreateFile(path, vcpus, memory_gib);
}

}  // namespace kaas::provisioner
