// Operations: read them, cancel and retry them (lifecycle::ClusterQueries, ClusterService).

#include "routes.h"

namespace kaas::api {

using auth::Action;

Result<Reply> ListClusterOperations(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(auto c, ClusterFor(ctx, ctx.params["id"], Action::kRead));
  KAAS_ASSIGN_OR_RETURN(auto ops, ctx.deps.queries.Operations(c.cluster.id, 100));
  return Reply{200, Items(ops, OperationJson)};
}

Result<Reply> GetOperation(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Operation op, OperationFor(ctx, Action::kRead));
  return Reply{200, OperationJson(op)};
}

Result<Reply> CancelOperation(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Operation op, OperationFor(ctx, Action::kOperate));
  KAAS_ASSIGN_OR_RETURN(store::Operation cancelled, ctx.deps.clusters.Cancel(op.id));
  return Reply{202, {{"operation", OperationJson(cancelled)}}};
}

Result<Reply> RetryOperation(Context& ctx) {
  KAAS_ASSIGN_OR_RETURN(store::Operation op, OperationFor(ctx, Action::kOperate));
  KAAS_ASSIGN_OR_RETURN(store::Operation retried, ctx.deps.clusters.Retry(op.id));
  return Reply{202, {{"operation", OperationJson(retried)}}};
}

}  // namespace kaas::api
