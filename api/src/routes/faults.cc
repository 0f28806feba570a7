// Fault injection for tests and demos (lifecycle::FaultInjector): 404 unless kaasd runs with
// --fault-injection true.

#include "routes.h"

namespace kaas::api {
namespace {

Result<lifecycle::FaultRule> ParseRule(const Json& r, const std::string& prefix) {
  if (!r.is_object()) return InvalidArgument("rules", "every rule must be an object");
  lifecycle::FaultRule f;
  KAAS_ASSIGN_OR_RETURN(f.on, GetString(r, "on", false, prefix));
  if (f.on.empty()) f.on = "step";
  KAAS_ASSIGN_OR_RETURN(f.match, GetString(r, "match", false, prefix));
  KAAS_ASSIGN_OR_RETURN(f.action, GetString(r, "action", false, prefix));
  if (f.action.empty()) f.action = "fail";
  KAAS_ASSIGN_OR_RETURN(f.code, GetString(r, "code", false, prefix));
  if (f.code.empty()) f.code = "unavailable";
  KAAS_ASSIGN_OR_RETURN(f.nth, GetInt(r, "nth", false, 1, prefix));
  KAAS_ASSIGN_OR_RETURN(f.times, GetInt(r, "times", false, 1, prefix));
  KAAS_ASSIGN_OR_RETURN(f.delay_ms, GetInt(r, "delay_ms", false, 0, prefix));
  if (f.code != "unavailable" && f.code != "internal") {
    return InvalidArgument(prefix + "code", "code must be unavailable or internal");
  }
  if (f.on != "step" && f.on != "hypervisor" && f.on != "node") {
    return InvalidArgument(prefix + "on", "on must be step, hypervisor or node");
  }
  if (f.on == "node" && (f.action != "crash" || f.match.find('/') == std::string::npos)) {
    return InvalidArgument(prefix + "match",
                           "a node rule is {\"on\": \"node\", \"match\": \"CLUSTER/NODE\", "
                           "\"action\": \"crash\"}");
  }
  if (f.action != "fail" && f.action != "delay" && f.action != "crash" &&
      f.action != "crash_after_act") {
    return InvalidArgument(prefix + "action",
                           "action must be fail, delay, crash or crash_after_act");
  }
  return f;
}

}  // namespace

Result<Reply> GetFaults(Context& ctx) {
  if (!ctx.deps.faults) return NotFound("fault injection is not enabled");
  Json items = Json::array();
  for (const auto& f : ctx.deps.faults->Rules()) items.push_back(FaultRuleJson(f));
  return Reply{200, {{"rules", items}}};
}

Result<Reply> PutFaults(Context& ctx) {
  if (!ctx.deps.faults) return NotFound("fault injection is not enabled");
  KAAS_ASSIGN_OR_RETURN(Json body, ParseObject(ctx.body, {"rules"}));
  auto it = body.find("rules");
  if (it == body.end() || !it->is_array()) {
    return InvalidArgument("rules", "rules must be an array");
  }
  std::vector<lifecycle::FaultRule> rules;
  for (size_t i = 0; i < it->size(); ++i) {
    KAAS_ASSIGN_OR_RETURN(auto rule, ParseRule((*it)[i], "rules[" + std::to_string(i) + "]."));
    rules.push_back(std::move(rule));
  }
  ctx.deps.faults->Set(rules);
  return GetFaults(ctx);
}

}  // namespace kaas::api
