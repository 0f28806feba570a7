#pragma once

// What a change to a running cluster adds and plans: filled in by each change's shape
// (cluster_changes.cc), admitted by ClusterService::AdmitChange (cluster_service.cc).

#include <map>
#include <string>
#include <vector>

#include "kaas/lifecycle/cluster_service.h"

namespace kaas::lifecycle {

struct ClusterService::Change {
  ChangeSpec spec;
  std::vector<store::Node> new_nodes;         // reserved by this change
  std::vector<store::Node> resized;           // live nodes with their new size
  std::map<std::string, std::string> params;  // what was asked, for the operation record
  bool allow_colocated_masters = false;
};

}  // namespace kaas::lifecycle
