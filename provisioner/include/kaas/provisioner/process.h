#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::provisioner {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  bool timed_out = false;
  bool cancelled = false;
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs argv[0] (looked up in PATH) as a child process with stdout+stderr captured line by line.
// `on_line` sees every output line as it arrives. The child is terminated (SIGTERM, then
// SIGKILL after 5 s) when `timeout_ms` passes or `*cancel` becomes true. Fails only when the
// process cannot be started; a non-zero exit is a result, not an error.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& cwd,
                                 int timeout_ms,
                                 const std::function<void(const std::string&)>& on_line = {},
                                 const std::atomic<bool>* cancel = nullptr);

}  // namespace kaas::provisioner
