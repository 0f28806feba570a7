// What the engine records as it goes: events (step, operation, cluster) for the event streams and
// the notifications they become, and how an operation ends (its cluster's resting status).
#include "engine_events.h"

#include <nlohmann/json.hpp>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/lifecycle/engine.h"
#include "kaas/notify/notify.h"
#include "kaas/store/repositories.h"
#include "steps_internal.h"

namespace kaas::lifecycle {
namespace internal {

// `replica` and `epoch`: who recorded it, under which lease (the step history of a takeover).
std::string StepEvent(const store::Operation& op, const store::Step& s, const std::string& replica,
                      int64_t epoch) {
  return nlohmann::json{{"operation", op.id}, {"index", s.index},     {"name", s.name},
                        {"state", s.state},   {"message", s.message}, {"attempts", s.attempts},
                        {"replica", replica}, {"epoch", epoch}}
      .dump();
}

std::string OperationEvent(const store::Operation& op) {
  return nlohmann::json{{"operation", op.id},
                        {"type", op.type},
                        {"state", op.state},
                        {"error", op.error},
                        {"progress", Progress(op)}}
      .dump();
}

}  // namespace internal

namespace {

std::string ClusterEvent(const std::string& status, const std::string& reason) {
  return nlohmann::json{{"status", status}, {"status_reason", reason}}.dump();
}

// Where a cluster rests when an operation of `type` ends in `state`.
std::pair<ClusterStatus, std::string> Resting(const store::Operation& op, OperationState state,
                                              const std::string& why) {
  if (state == OperationState::kSucceeded) {
    return {RestingStatus(TypeOf(op).value_or(OperationType::kCreate)), ""};
  }
  if (state == OperationState::kFailed) return {ClusterStatus::kError, why};
  // Cancelled: a half-built or half-deleted cluster is not usable; a cancelled change leaves a
  // working cluster whose shape the record describes.
  const auto type = TypeOf(op);
  if (type == OperationType::kCreate || type == OperationType::kDelete) {
    return {ClusterStatus::kError, why};
  }
  return {ClusterStatus::kRunning, why};
}

}  // namespace

using internal::OperationEvent;

void Engine::Emit(store::Tx& tx, const std::string& cluster_id, const std::string& team_id,
                  const std::string& kind, const std::string& data) {
  store::Event e{NewId("ev"), cluster_id, team_id, clock_.NowMs(), kind, data};
  store::events::Insert(tx, e);
}

void Engine::Notify(store::Tx& tx, const store::Operation& op, const std::string& team_id,
                    OperationState state) {
  auto c = store::clusters::Find(tx, op.cluster_id);
  const std::string name = c ? c->name : "";
  const int64_t now = clock_.NowMs();
  std::string data =
      nlohmann::json{{"type", op.type}, {"state", op.state}, {"error", op.error}}.dump();
  notify::Enqueue(
      tx, {"operation." + op.state, team_id, op.cluster_id, name, op.id, op.requested_by, data},
      now);
  if (state != OperationState::kSucceeded) return;
  const auto type = TypeOf(op);
  if (type == OperationType::kRepair) {
    notify::Enqueue(tx,
                    {"node.repaired", team_id, op.cluster_id, name, op.id, op.requested_by,
                     nlohmann::json{{"node", internal::ParamOf(op, "node")}}.dump()},
                    now);
    return;
  }
  if (type != OperationType::kCreate && type != OperationType::kDelete) return;
  notify::Enqueue(tx,
                  {type == OperationType::kCreate ? "cluster.created" : "cluster.deleted", team_id,
                   op.cluster_id, name, op.id, op.requested_by,
                   nlohmann::json{{"status", c ? c->status : ""}}.dump()},
                  now);
}

Status Engine::Finish(Run& run, store::Operation& op, const std::string& team_id,
                      OperationState state, const std::string& why) {
  op.state = ToString(state);
  op.error = state == OperationState::kSucceeded ? "" : why;
  for (auto& s : op.steps) {
    if (state == OperationState::kCancelled && StateOf(s) == StepState::kPending) {
      s.state = ToString(StepState::kCancelled);
    }
  }
  // The cluster record describes its live nodes before anyone can see the operation ended.
  Status settled =
      runner_.Settle(op, StepControl{nullptr, [&](store::Tx& tx) { return Fence(tx, run); }});
  if (run.lost) return Status(Code::kConflict, "lease lost");
  if (!settled.ok()) {
    log::Error("settle failed",
               {{"operation", op.id}, {"cluster", op.cluster_id}, {"error", settled.ToString()}});
  }
  auto [resting, reason] = Resting(op, state, why);
  const std::string status = ToString(resting);
  KAAS_RETURN_IF_ERROR(Persist(run, [&](store::Tx& tx) {
    store::leases::Release(tx, op.id, options_.replica_id, run.epoch);
    for (const auto& s : op.steps) {
      if (StateOf(s) == StepState::kCancelled) store::operations::UpdateStep(tx, s);
    }
    store::operations::SetState(tx, op.id, op.state, op.error, clock_.NowMs());
    store::clusters::SetStatus(tx, op.cluster_id, status, reason, clock_.NowMs());
    Emit(tx, op.cluster_id, team_id, "operation", OperationEvent(op));
    Emit(tx, op.cluster_id, team_id, "cluster", ClusterEvent(status, reason));
    if (state == OperationState::kSucceeded && TypeOf(op) == OperationType::kRepair) {
      Emit(tx, op.cluster_id, team_id, "node",
           nlohmann::json{{"event", "node.repaired"},
                          {"node", internal::ParamOf(op, "node")},
                          {"operation", op.id}}
               .dump());
    }
    Notify(tx, op, team_id, state);
  }));
  const double seconds = std::max<int64_t>(clock_.NowMs() - op.created_at, 0) / 1000.0;
  operation_duration_.Observe({op.type, op.state}, seconds);
  const std::string ms = std::to_string(static_cast<int64_t>(seconds * 1000));
  if (state == OperationState::kSucceeded) {
    log::Info(
        "operation succeeded",
        {{"operation", op.id}, {"cluster", op.cluster_id}, {"type", op.type}, {"duration_ms", ms}});
  } else {
    log::Warn("operation ended", {{"operation", op.id},
                                  {"cluster", op.cluster_id},
                                  {"type", op.type},
                                  {"state", op.state},
                                  {"duration_ms", ms},
                                  {"reason", why}});
  }
  return Status::Ok();
}

}  // namespace kaas::lifecycle
