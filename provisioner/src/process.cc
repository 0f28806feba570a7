#include "kaas/provisioner/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace kaas::provisioner {

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& cwd,
                                 int timeout_ms,
                                 const std::function<void(const std::string&)>& on_line,
                                 const std::atomic<bool>* cancel) {
  if (argv.empty()) return InvalidArgument("argv", "no program to run");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal("pipe failed");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Internal("fork failed");
  }
  if (pid == 0) {
    setpgid(0, 0);  // own process group: a timeout or cancel kills its children too
    // kaasd blocks SIGTERM/SIGINT (a dedicated thread waits for them) and ignores SIGPIPE; the
    // child must not inherit that, or a cancel's SIGTERM would only land with the SIGKILL.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);

  ProcessResult result;
  std::string pending;
  auto start = std::chrono::steady_clock::now();
  auto kill_deadline = std::chrono::steady_clock::time_point::max();
  bool open = true;
  while (open) {
    auto now = std::chrono::steady_clock::now();
    bool expired = timeout_ms > 0 && now - start > std::chrono::milliseconds(timeout_ms);
    bool cancelled = cancel && cancel->load();
    if ((expired || cancelled) && kill_deadline == std::chrono::steady_clock::time_point::max()) {
      result.timed_out = expired;
      result.cancelled = cancelled;
      kill(-pid, SIGTERM);
      kill_deadline = now + std::chrono::seconds(5);
    }
    if (now > kill_deadline) kill(-pid, SIGKILL);
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, 100);
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      open = false;
      break;
    }
    result.output.append(buf, static_cast<size_t>(n));
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      if (on_line) on_line(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  if (!pending.empty() && on_line) on_line(pending);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (result.exit_code == 127 && result.output.empty()) {
    return Status(Code::kFailedPrecondition, argv[0] + " is not installed");
  }
  return result;
}

}  // namespace kaas::provisioner
