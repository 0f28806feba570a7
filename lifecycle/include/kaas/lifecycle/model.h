#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "kaas/store/records.h"

// The operation model's types: what an operation, a step and a node can be. The store keeps
// them as text (store/records.h rows) and the API shows the same text; lifecycle/ and api/
// convert only there — `ToString` when writing a row or a JSON view, `Parse`/`…Of` when reading
// one — and otherwise compare and switch on the enums.
namespace kaas::lifecycle {

enum class OperationType {
  kCreate,
  kDelete,
  kScaleWorkers,
  kScaleMasters,
  kResizeMasters,
  kUpgrade,
  kRepair  // replace one node (the health monitor's, or a person's)
};
// pending -> running -> succeeded | failed | cancelled (a retry moves failed/cancelled back
// to pending).
enum class OperationState { kPending, kRunning, kSucceeded, kFailed, kCancelled };

// What a step does: the key of the step table (steps.cc). The planner emits them.
enum class StepKind {
  kReserve,
  kIssuePki,
  kProvisionNodes,  // target: a role
  kProvisionNode,   // target: one node
  kBootstrapFirstMaster,
  kJoinMaster,
  kJoinWorkers,
  kHealthGate,
  kEtcdAddLearner,
  kEtcdPromote,
  kEtcdRemove,
  kDrainNodes,
  kResizeNode,
  kUpgradeNodes,
  kVerify,
  kDestroyNodes,  // target: a role or a comma-separated list of nodes
  kReleaseCluster,
};
enum class StepState { kPending, kRunning, kSucceeded, kFailed, kCancelled };

enum class NodeRole { kMaster, kWorker };
enum class NodeKind { kVm, kPhysical };
// reserved -> provisioned -> (learner ->) ready -> (draining | removing ->) deleted.
enum class NodeState { kReserved, kProvisioned, kLearner, kReady, kDraining, kRemoving, kDeleted };

enum class ClusterStatus { kProvisioning, kRunning, kUpdating, kDeleting, kDeleted, kError };

// What the health monitor last saw of a node's machine.
enum class NodeHealth { kHealthy, kUnhealthy, kUnknown };

// The text of each value, indexed by the enum's value (the stored and shown form).
template <typename E>
struct EnumNames;
template <>
struct EnumNames<OperationType> {
  static constexpr std::array<std::string_view, 7> kNames = {
      "create", "delete", "scale_workers", "scale_masters", "resize_masters", "upgrade", "repair"};
};
template <>
struct EnumNames<OperationState> {
  static constexpr std::array<std::string_view, 5> kNames = {"pending", "running", "succeeded",
                                                             "failed", "cancelled"};
};
template <>
struct EnumNames<StepKind> {
  static constexpr std::array<std::string_view, 17> kNames = {"reserve",
                                                              "issue_pki",
                                                              "provision_nodes",
                                                              "provision_node",
                                                              "bootstrap_first_master",
                                                              "join_master",
                                                              "join_workers",
                                                              "health_gate",
                                                              "etcd_add_learner",
                                                              "etcd_promote",
                                                              "etcd_remove",
                                                              "drain_nodes",
                                                              "resize_node",
                                                              "upgrade_nodes",
                                                              "verify",
                                                              "destroy_nodes",
                                                              "release_cluster"};
};
template <>
struct EnumNames<StepState> {
  static constexpr std::array<std::string_view, 5> kNames = {"pending", "running", "succeeded",
                                                             "failed", "cancelled"};
};
template <>
struct EnumNames<NodeRole> {
  static constexpr std::array<std::string_view, 2> kNames = {"master", "worker"};
};
template <>
struct EnumNames<NodeKind> {
  static constexpr std::array<std::string_view, 2> kNames = {"vm", "physical"};
};
template <>
struct EnumNames<NodeState> {
  static constexpr std::array<std::string_view, 7> kNames = {
      "reserved", "provisioned", "learner", "ready", "draining", "removing", "deleted"};
};
template <>
struct EnumNames<ClusterStatus> {
  static constexpr std::array<std::string_view, 6> kNames = {"provisioning", "running", "updating",
                                                             "deleting",     "deleted", "error"};
};

template <>
struct EnumNames<NodeHealth> {
  static constexpr std::array<std::string_view, 3> kNames = {"healthy", "unhealthy", "unknown"};
};

// The stored / shown text of a value.
template <typename E>
std::string ToString(E value) {
  return std::string(EnumNames<E>::kNames.at(static_cast<size_t>(value)));
}

// The value a text names; nullopt for any other text.
template <typename E>
std::optional<E> Parse(std::string_view text) {
  const auto& names = EnumNames<E>::kNames;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) return static_cast<E>(i);
  }
  return std::nullopt;
}

// A row's fields read as the model's types (nullopt when the row holds an unknown text, which
// compares unequal to every value).
inline std::optional<OperationType> TypeOf(const store::Operation& op) {
  return Parse<OperationType>(op.type);
}
inline std::optional<OperationState> StateOf(const store::Operation& op) {
  return Parse<OperationState>(op.state);
}
inline std::optional<StepKind> KindOf(const store::Step& s) { return Parse<StepKind>(s.kind); }
inline std::optional<StepState> StateOf(const store::Step& s) { return Parse<StepState>(s.state); }
inline std::optional<NodeRole> RoleOf(const store::Node& n) { return Parse<NodeRole>(n.role); }
inline std::optional<NodeKind> KindOf(const store::Node& n) { return Parse<NodeKind>(n.kind); }
inline std::optional<NodeState> StateOf(const store::Node& n) { return Parse<NodeState>(n.state); }
inline std::optional<NodeHealth> HealthOf(const store::Node& n) {
  return Parse<NodeHealth>(n.health);
}
inline std::optional<ClusterStatus> StatusOf(const store::Cluster& c) {
  return Parse<ClusterStatus>(c.status);
}

// True for an etcd membership change (never interrupted by a cancel).
inline bool IsEtcdMembershipChange(StepKind k) {
  return k == StepKind::kEtcdAddLearner || k == StepKind::kEtcdPromote ||
         k == StepKind::kEtcdRemove;
}

// Fraction of an operation's steps that have succeeded, 0..100.
int Progress(const store::Operation& op);

}  // namespace kaas::lifecycle
