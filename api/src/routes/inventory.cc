// Hypervisors, physical hosts and orphans (provisioner::Inventory, lifecycle::Reconciler).
// Platform admins only (the route table says so).

#include "routes.h"

namespace kaas::api {

Result<Reply> ListHypervisors(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto hypervisors, ctx.deps.inventory.ListHypervisors());
  return Reply{200, Items(hypervisors, [](const auto& r) { return HypervisorJson(r); })};
}

Result<Reply> CreateHypervisor(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name", "uri", "vcpus", "memory_gib"}));
  store::Hypervisor hv;
  KAAS_ASSIGN_OR_RETURN(hv.name, GetString(body, "name", true, kMaxNameBytes));
  ctx.audit_object = hv.name;
  KAAS_ASSIGN_OR_RETURN(hv.uri, GetString(body, "uri", true));
  KAAS_ASSIGN_OR_RETURN(hv.vcpus, GetInt(body, "vcpus", true, 0));
  KAAS_ASSIGN_OR_RETURN(hv.memory_gib, GetInt(body, "memory_gib", true, 0));
  KAAS_ASSIGN_OR_RETURN(store::Hypervisor added, ctx.deps.inventory.AddHypervisor(hv));
  return Reply{201, HypervisorJson(added)};
}

Result<Reply> UpdateHypervisor(Context& ctx) {
  const std::string& name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"state"}));
  KAAS_ASSIGN_OR_RETURN(std::string state, GetString(body, "state", true, kMaxNameBytes));
  KAAS_RETURN_IF_ERROR(ctx.deps.inventory.SetHypervisorState(name, state));
  return Reply{200, {{"name", name}, {"state", state}}};
}

Result<Reply> DeleteHypervisor(Context& ctx) {
  ctx.audit_object = ctx.params["name"];
  KAAS_RETURN_IF_ERROR(ctx.deps.inventory.RemoveHypervisor(ctx.params["name"]));
  return Reply{204, nullptr};
}

Result<Reply> ListHosts(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto hosts, ctx.deps.inventory.ListHosts());
  return Reply{200, Items(hosts, HostJson)};
}

Result<Reply> CreateHost(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"name", "address", "vcpus", "memory_gib",
                                                          "labels", "host_key"}));
  store::Host h;
  KAAS_ASSIGN_OR_RETURN(h.name, GetString(body, "name", true, kMaxNameBytes));
  ctx.audit_object = h.name;
  KAAS_ASSIGN_OR_RETURN(h.address, GetString(body, "address", true));
  KAAS_ASSIGN_OR_RETURN(h.vcpus, GetInt(body, "vcpus", true, 0));
  KAAS_ASSIGN_OR_RETURN(h.memory_gib, GetInt(body, "memory_gib", true, 0));
  KAAS_ASSIGN_OR_RETURN(h.host_key, GetString(body, "host_key", false));
  Json labels = Json::object();
  if (auto l = body.find("labels"); l != body.end() && !l->is_null()) {
    if (!l->is_object()) return InvalidArgument("labels", "labels must be an object of strings");
    for (const auto& [k, v] : l->items()) {
      if (!v.is_string()) return InvalidArgument("labels." + k, "label values must be strings");
    }
    labels = *l;
  }
  h.labels = labels.dump();
  KAAS_ASSIGN_OR_RETURN(store::Host added, ctx.deps.inventory.AddHost(h));
  return Reply{201, HostRecordJson(added)};
}

Result<Reply> UpdateHost(Context& ctx) {
  const std::string& name = ctx.params["name"];
  ctx.audit_object = name;
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"state", "host_key"}));
  KAAS_ASSIGN_OR_RETURN(std::string state, GetString(body, "state", false, kMaxNameBytes));
  KAAS_ASSIGN_OR_RETURN(std::string host_key, GetString(body, "host_key", false));
  KAAS_ASSIGN_OR_RETURN(store::Host host, ctx.deps.inventory.UpdateHost(name, state, host_key));
  return Reply{200, HostJson(host)};
}

Result<Reply> DeleteHost(Context& ctx) {
  ctx.audit_object = ctx.params["name"];
  KAAS_RETURN_IF_ERROR(ctx.deps.inventory.RemoveHost(ctx.params["name"]));
  return Reply{204, nullptr};
}

Result<Reply> ListOrphans(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto report, ctx.deps.reconciler.Run(false));
  return Reply{200, OrphansJson(report)};
}

}  // namespace kaas::api
