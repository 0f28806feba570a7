#pragma once

// Fakes and helpers shared by the lifecycle test suites.

#include <functional>
#include <string>
#include <utility>

#include "kaas/lifecycle/engine_hooks.h"

namespace kaas::lifecycle::test_support {

// Engine hooks from a function, for the crash tests: `before_step(op_id, step_index)` returning
// false abandons the operation right there, as a kill -9 just before that step would.
class BeforeStepHooks : public EngineHooks {
 public:
  using Fn = std::function<bool(const std::string& op_id, int64_t step_index)>;
  explicit BeforeStepHooks(Fn before_step) : before_step_(std::move(before_step)) {}
  StepEntry BeforeStep(const store::Operation& op, const store::Step& step) override {
    return StepEntry{.abandon = !before_step_(op.id, step.index)};
  }

 private:
  Fn before_step_;
};

}  // namespace kaas::lifecycle::test_support
