#include "kaas/lifecycle/catalog.h"

namespace kaas::lifecycle {
namespace {

// "a, b, c": the flavors' names, for error messages.
std::string Names(const std::vector<Flavor>& flavors) {
  std::string out;
  for (const auto& f : flavors) out += (out.empty() ? "" : ", ") + f.name;
  return out;
}

}  // namespace

const std::vector<Flavor>& MasterFlavors() {
  static const std::vector<Flavor> kFlavors = {
      {"m.small", NodeRole::kMaster, NodeKind::kVm, 4, 4},
      {"m.medium", NodeRole::kMaster, NodeKind::kVm, 8, 8},
      {"m.large", NodeRole::kMaster, NodeKind::kPhysical, 8, 16},
  };
  return kFlavors;
}

const std::vector<Flavor>& WorkerFlavors() {
  static const std::vector<Flavor> kFlavors = {
      {"w.small", NodeRole::kWorker, NodeKind::kVm, 2, 4},
      {"w.medium", NodeRole::kWorker, NodeKind::kVm, 4, 8},
      {"w.large", NodeRole::kWorker, NodeKind::kVm, 8, 32},
  };
  return kFlavors;
}

const std::vector<SizingRule>& SizingTable() {
  static const std::vector<SizingRule> kTable = {
      {0, 50, "m.small"},
      {51, 100, "m.medium"},
      {101, kMaxWorkers, "m.large"},
  };
  return kTable;
}

Result<Flavor> WorkerFlavor(const std::string& name) {
  for (const auto& f : WorkerFlavors()) {
    if (f.name == name) return f;
  }
  return InvalidArgument("workers.flavor",
                         "workers.flavor must be one of " + Names(WorkerFlavors()));
}

Result<Flavor> MasterFlavor(const std::string& name, const std::string& field) {
  for (const auto& f : MasterFlavors()) {
    if (f.name == name) return f;
  }
  return InvalidArgument(field, field + " must be one of " + Names(MasterFlavors()));
}

int MasterFlavorRank(const std::string& name) {
  const auto& flavors = MasterFlavors();
  for (size_t i = 0; i < flavors.size(); ++i) {
    if (flavors[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Result<Flavor> MasterFlavorForWorkers(int64_t workers) {
  if (workers < 0) return InvalidArgument("workers.count", "workers.count must be >= 0");
  for (const auto& rule : SizingTable()) {
    if (workers >= rule.min_workers && workers <= rule.max_workers) {
      return MasterFlavor(rule.master_flavor);
    }
  }
  return InvalidArgument("workers.count", "workers.count must be <= " +
                                              std::to_string(kMaxWorkers) + " (sizing policy)");
}

Result<int64_t> MasterCount(const std::string& purpose, int64_t explicit_count) {
  int64_t by_purpose = 0;
  if (purpose == "personal") {
    by_purpose = 1;
  } else if (purpose == "dev") {
    by_purpose = 3;
  } else if (purpose == "prod") {
    by_purpose = 5;
  } else {
    return InvalidArgument("purpose", "purpose must be one of personal, dev, prod");
  }
  if (explicit_count == 0) return by_purpose;
  if (explicit_count == 1 || explicit_count == 3 || explicit_count == 5) return explicit_count;
  return InvalidArgument("masters.count",
                         "masters.count must be 1, 3 or 5 (an etcd quorum never rests even)");
}

const std::vector<KubernetesVersion>& SupportedVersions() {
  // lifecycle/kubernetes-versions.txt, turned into initializers by lifecycle/CMakeLists.txt.
  static const std::vector<KubernetesVersion> kVersions = {
#include "kubernetes_versions.inc"
  };
  return kVersions;
}

std::string DefaultVersion() {
  for (const auto& v : SupportedVersions()) {
    if (v.is_default) return v.version;
  }
  return SupportedVersions().back().version;
}

bool IsSupportedVersion(const std::string& version) {
  for (const auto& v : SupportedVersions()) {
    if (v.version == version) return true;
  }
  return false;
}

}  // namespace kaas::lifecycle
