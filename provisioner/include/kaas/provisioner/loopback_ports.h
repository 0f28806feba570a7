#pragma once

#include <cstddef>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::provisioner {

// `n` distinct free TCP ports on 127.0.0.1, for a guest's forwarded ports (QEMU user-mode
// networking binds them when the domain starts, not when kaas picks them). All `n` are held
// bound at once while they are picked, so one call never repeats a port, and a port handed out
// in this process during the last ten minutes is never handed out again: two domains defined
// one after the other would otherwise get the same port from the kernel, and the second to start
// fails ("Could not set up host forwarding rule").
Result<std::vector<int>> PickLoopbackPorts(size_t n);

}  // namespace kaas::provisioner
