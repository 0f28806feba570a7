#pragma once

#include <string>

namespace kaas::lifecycle {

// Where admitted operations go to run: what ClusterService needs of the engine (Engine
// implements it; tests may put a recording fake in).
class OperationQueue {
 public:
  virtual ~OperationQueue() = default;
  // Schedules a persisted operation; a no-op when it is already scheduled or running here.
  virtual void Submit(const std::string& op_id) = 0;
  // Interrupts the running step of an operation running here (its Ansible run is
  // terminated). The persisted cancel flag, which every replica checks at each step boundary,
  // is set by the caller.
  virtual void RequestCancel(const std::string& op_id) = 0;
};

}  // namespace kaas::lifecycle
