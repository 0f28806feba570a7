// The JSON of the events the engine records (engine_events.cc), for the engine's own steps.
#pragma once

#include <cstdint>
#include <string>

#include "kaas/store/records.h"

namespace kaas::lifecycle::internal {

// A step's event; `replica` and `epoch`: who recorded it, under which lease (the step history
// of a takeover).
std::string StepEvent(const store::Operation& op, const store::Step& s, const std::string& replica,
                      int64_t epoch);
// An operation's event: its type, state, error and progress.
std::string OperationEvent(const store::Operation& op);

}  // namespace kaas::lifecycle::internal
