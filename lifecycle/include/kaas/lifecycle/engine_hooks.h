#pragma once

#include "kaas/common/status.h"
#include "kaas/store/records.h"

namespace kaas::lifecycle {

// What the engine does with a step attempt it is about to start.
struct StepEntry {
  // Stop the operation right here without writing anything, as a kill -9 would.
  bool abandon = false;
  // Not OK: the attempt is recorded as started and fails with this instead of running.
  Status fault;
};

// Points where the engine lets someone else in: fault injection for demos and tests
// (FaultHooks in faults.h, wired by kaasd with --fault-injection true) and the crash tests.
// The engine has none by default; its own code has no test-only behaviour.
class EngineHooks {
 public:
  virtual ~EngineHooks() = default;
  // Before every attempt of a step (before anything about it is written).
  virtual StepEntry BeforeStep(const store::Operation& op, const store::Step& step) { return {}; }
  // After the step ran (acted), before its result is recorded.
  virtual void AfterStep(const store::Operation& op, const store::Step& step) {}
};

}  // namespace kaas::lifecycle
