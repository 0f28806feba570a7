#pragma once

#include <string>
#include <vector>

#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"
#include "kaas/store/repositories.h"

namespace kaas::quota {

using Limits = store::QuotaLimits;
using Usage = store::QuotaUsage;

// What a request adds to a team's usage.
struct Demand {
  int64_t clusters = 0;
  int64_t vcpus = 0;
  int64_t memory_gib = 0;
  int64_t physical_hosts = 0;

  bool empty() const { return !clusters && !vcpus && !memory_gib && !physical_hosts; }
  Demand& operator+=(const Demand& other);
};

// The one computation of what nodes take from a team's quota, used by every admission: a VM
// its vCPU and memory, a physical node one host (its size is the host's, not the team's
// concern). Mirrors how usage is counted from live rows (store::quotas::Usage).
Demand DemandOf(const store::Node& node);
Demand DemandOf(const std::vector<store::Node>& nodes);
// What re-sizing a node from `before` to `after` adds: its growth; a shrink adds nothing.
Demand GrowthOf(const store::Node& before, const store::Node& after);

// OK when usage + demand stays within limits; otherwise kQuotaExceeded naming every exceeded
// resource with {resource, requested, used, limit}.
Status Check(const Limits& limits, const Usage& usage, const Demand& demand);

// A resource that a demand takes past 90 % of its limit (it was at or below 90 % before).
struct NearlyFull {
  std::string resource;  // clusters | vcpus | memory_gib | physical_hosts
  int64_t used = 0;      // after the demand
  int64_t limit = 0;
};
std::vector<NearlyFull> CrossingNinetyPercent(const Limits& limits, const Usage& usage,
                                              const Demand& demand);

// Team quotas. Reads and checks run on the caller's transaction, so that admission (check,
// then reserve by inserting nodes) is one atomic step.
class QuotaService {
 public:
  explicit QuotaService(Limits defaults) : defaults_(defaults) {}

  // The team's limits, or the configured defaults when none were set.
  Limits LimitsOf(store::Tx& tx, const std::string& team_id) const;
  Usage UsageOf(store::Tx& tx, const std::string& team_id) const;
  Status Admit(store::Tx& tx, const std::string& team_id, const Demand& demand) const;
  // Queues a `quota.nearly_full` notification on `tx` for every resource `demand` takes past
  // 90 % of the team's limit. Call it with the usage before the demand is inserted.
  void NotifyNearlyFull(store::Tx& tx, const std::string& team_id, const Demand& demand,
                        const std::string& actor, int64_t now) const;
  // kInvalidArgument (naming the field) for negative limits.
  static Status Validate(const Limits& limits);

  const Limits& defaults() const { return defaults_; }

 private:
  Limits defaults_;
};

}  // namespace kaas::quota
