#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kaas::cli {

// The streams a command talks to, so that tests can run commands without a process.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  // Whether `out` is a terminal: --watch then redraws in place instead of appending lines.
  bool out_is_tty = false;
  // Columns of that terminal; lines drawn in place are cut to fit so the redraw stays exact.
  int terminal_width = 80;
  // Whether `in` is a terminal: only then do destructive changes ask before they run (without
  // one, and without --yes, they refuse).
  bool in_is_tty = false;
  // How the user invoked us, for usage lines: "kaas", or "kubectl kaas" when the binary runs
  // as kubectl's plugin (installed or linked as kubectl-kaas somewhere on PATH).
  std::string program = "kaas";
};

// Runs one kaas command line (`args` without the program name). Exit codes: 0 success,
// 1 the command failed (API error, unreachable server, failed operation), 2 usage error.
int Run(const std::vector<std::string>& args, Io& io);

// Run() on the process's own stdin/stdout/stderr; argv[0]'s base name kubectl-kaas makes
// it kubectl's plugin (`kubectl kaas login`, `kubectl kaas use …`): the same commands.
int Main(int argc, char** argv);

}  // namespace kaas::cli
