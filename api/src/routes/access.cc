#include "routes.h"

namespace kaas::api {

using auth::Action;
using auth::Authorizer;

Result<store::Team> TeamFor(Context& ctx, const std::string& name, Action action) {
  KAAS_ASSIGN_OR_RETURN(store::Team team, ctx.deps.teams.FindByName(name));
  Status st = Authorizer::Check(ctx.principal, action, team.id);
  if (st.code() == Code::kNotFound) return NotFound("team " + name + " not found");
  KAAS_RETURN_IF_ERROR(st);
  return team;
}

Result<lifecycle::ClusterRecord> ClusterFor(Context& ctx, const std::string& id, Action action) {
  KAAS_ASSIGN_OR_RETURN(lifecycle::ClusterRecord c, ctx.deps.queries.Find(id));
  Status st = Authorizer::CheckCluster(ctx.principal, action, c.cluster.team_id, c.cluster.labels);
  if (st.code() == Code::kNotFound) return NotFound("cluster " + id + " not found");
  KAAS_RETURN_IF_ERROR(st);
  return c;
}

Result<store::Operation> OperationFor(Context& ctx, Action action) {
  const std::string& id = ctx.params["id"];
  KAAS_ASSIGN_OR_RETURN(store::Operation op, ctx.deps.queries.FindOperation(id));
  auto cluster = ClusterFor(ctx, op.cluster_id, action);
  if (cluster.status().code() == Code::kNotFound) return NotFound("operation " + id + " not found");
  KAAS_RETURN_IF_ERROR(cluster.status());
  ctx.audit_team_id = cluster->cluster.team_id;
  ctx.audit_object = op.id;
  return op;
}

}  // namespace kaas::api
