#include "kaas/quota/quota.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "kaas/notify/notify.h"

namespace kaas::quota {

Demand& Demand::operator+=(const Demand& other) {
  clusters += other.clusters;
  vcpus += other.vcpus;
  memory_gib += other.memory_gib;
  physical_hosts += other.physical_hosts;
  return *this;
}

Demand DemandOf(const store::Node& node) {
  Demand d;
  if (node.kind == "vm") {
    d.vcpus = node.vcpus;
    d.memory_gib = node.memory_gib;
  } else {
    d.physical_hosts = 1;
  }
  return d;
}

Demand DemandOf(const std::vector<store::Node>& nodes) {
  Demand d;
  for (const auto& n : nodes) d += DemandOf(n);
  return d;
}

Demand GrowthOf(const store::Node& before, const store::Node& after) {
  Demand d;
  d.vcpus = std::max<int64_t>(after.vcpus - before.vcpus, 0);
  d.memory_gib = std::max<int64_t>(after.memory_gib - before.memory_gib, 0);
  return d;
}

Status Check(const Limits& limits, const Usage& usage, const Demand& demand) {
  std::vector<ResourceShortfall> exceeded;
  auto check = [&](const char* resource, int64_t requested, int64_t used, int64_t limit) {
    if (requested > 0 && used + requested > limit) {
      exceeded.push_back({resource, requested, used, limit});
    }
  };
  check("clusters", demand.clusters, usage.clusters, limits.clusters);
  check("vcpus", demand.vcpus, usage.vcpus, limits.vcpus);
  check("memory_gib", demand.memory_gib, usage.memory_gib, limits.memory_gib);
  check("physical_hosts", demand.physical_hosts, usage.physical_hosts, limits.physical_hosts);
  if (exceeded.empty()) return Status::Ok();
  std::string msg = "quota exceeded:";
  for (const auto& e : exceeded) {
    msg += " " + e.resource + " (requested " + std::to_string(e.requested) + ", used " +
           std::to_string(e.used) + ", limit " + std::to_string(e.limit) + ")";
  }
  return std::move(Status(Code::kQuotaExceeded, msg).WithShortfalls(std::move(exceeded)));
}

Limits QuotaService::LimitsOf(store::Tx& tx, const std::string& team_id) const {
  auto limits = store::quotas::Get(tx, team_id);
  return limits ? *limits : defaults_;
}

Usage QuotaService::UsageOf(store::Tx& tx, const std::string& team_id) const {
  return store::quotas::Usage(tx, team_id);
}

Status QuotaService::Admit(store::Tx& tx, const std::string& team_id, const Demand& demand) const {
  return Check(LimitsOf(tx, team_id), UsageOf(tx, team_id), demand);
}

std::vector<NearlyFull> CrossingNinetyPercent(const Limits& limits, const Usage& usage,
                                              const Demand& demand) {
  std::vector<NearlyFull> out;
  auto check = [&](const char* name, int64_t limit, int64_t used, int64_t more) {
    if (limit <= 0 || more <= 0) return;
    // used*10 <= limit*9: at most 90 % (integers, no rounding).
    if (used * 10 <= limit * 9 && (used + more) * 10 > limit * 9) {
      out.push_back({name, used + more, limit});
    }
  };
  check("clusters", limits.clusters, usage.clusters, demand.clusters);
  check("vcpus", limits.vcpus, usage.vcpus, demand.vcpus);
  check("memory_gib", limits.memory_gib, usage.memory_gib, demand.memory_gib);
  check("physical_hosts", limits.physical_hosts, usage.physical_hosts, demand.physical_hosts);
  return out;
}

void QuotaService::NotifyNearlyFull(store::Tx& tx, const std::string& team_id, const Demand& demand,
                                    const std::string& actor, int64_t now) const {
  for (const auto& n : CrossingNinetyPercent(LimitsOf(tx, team_id), UsageOf(tx, team_id), demand)) {
    nlohmann::json data{{"resource", n.resource},
                        {"used", n.used},
                        {"limit", n.limit},
                        {"percent", n.used * 100 / n.limit}};
    notify::Enqueue(tx, {"quota.nearly_full", team_id, "", "", "", actor, data.dump()}, now);
  }
}

Status QuotaService::Validate(const Limits& l) {
  if (l.clusters < 0) return InvalidArgument("limits.clusters", "limits.clusters must be >= 0");
  if (l.vcpus < 0) return InvalidArgument("limits.vcpus", "limits.vcpus must be >= 0");
  if (l.memory_gib < 0) {
    return InvalidArgument("limits.memory_gib", "limits.memory_gib must be >= 0");
  }
  if (l.physical_hosts < 0) {
    return InvalidArgument("limits.physical_hosts", "limits.physical_hosts must be >= 0");
  }
  return Status::Ok();
}

}  // namespace kaas::quota
