#include "kaas/lifecycle/model.h"

namespace kaas::lifecycle {

int Progress(const store::Operation& op) {
  if (op.steps.empty()) return StateOf(op) == OperationState::kSucceeded ? 100 : 0;
  size_t done = 0;
  for (const auto& s : op.steps) done += StateOf(s) == StepState::kSucceeded;
  return static_cast<int>(done * 100 / op.steps.size());
}

}  // namespace kaas::lifecycle
