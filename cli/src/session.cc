// login, logout, whoami, and reading passwords.

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

// The terminal state to put back if the user interrupts the password prompt, which would
// otherwise leave their shell without echo.
int g_tty_fd = -1;
termios g_saved_termios{};

void RestoreTerminalAndDie(int sig) {
  tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved_termios);
  signal(sig, SIG_DFL);
  raise(sig);
}

// Reads one line from the controlling terminal with echo off.
Result<std::string> PromptPassword(const std::string& prompt) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return InvalidArgument("password",
                           "no terminal to prompt for the password on; pipe it in "
                           "with --password-stdin");
  }
  termios saved{};
  if (tcgetattr(fd, &saved) != 0) {
    close(fd);
    return InvalidArgument("password",
                           "cannot turn off echo on the terminal; use "
                           "--password-stdin");
  }
  g_tty_fd = fd;
  g_saved_termios = saved;
  auto old_int = signal(SIGINT, RestoreTerminalAndDie);
  auto old_term = signal(SIGTERM, RestoreTerminalAndDie);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  tcsetattr(fd, TCSAFLUSH, &quiet);
  // A prompt that cannot be shown does not stop the read below.
  [[maybe_unused]] ssize_t shown = write(fd, prompt.data(), prompt.size());
  std::string password;
  char c = 0;
  while (read(fd, &c, 1) == 1 && c != '\n') password += c;
  tcsetattr(fd, TCSAFLUSH, &saved);
  signal(SIGINT, old_int);
  signal(SIGTERM, old_term);
  close(fd);
  g_tty_fd = -1;
  return password;
}

// The whole of stdin minus one trailing line break, so `echo pw |` and `printf pw |` agree.
std::string ReadPasswordFromStdin(std::istream& in) {
  std::string password((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

}  // namespace

Result<std::string> ReadPassword(Env& env, const std::string& what, bool confirm) {
  if (env.args.Has("password-stdin")) return ReadPasswordFromStdin(env.io.in);
  KAAS_ASSIGN_OR_RETURN(std::string password, PromptPassword("Password for " + what + ": "));
  if (confirm) {
    KAAS_ASSIGN_OR_RETURN(std::string again, PromptPassword("Repeat the password: "));
    if (again != password) return InvalidArgument("password", "the passwords differ");
  }
  return password;
}

int CmdLogin(Env& env) {
  std::string user = env.args.Get("user", "admin");
  auto password = ReadPassword(env, user + " at " + env.server, false);
  if (!password.ok()) return UsageError(env, password.status().message());
  if (password->empty()) return UsageError(env, "the password is empty");

  std::string ca_file;
  if (env.args.Has("ca-file")) {
    std::error_code ec;
    ca_file = std::filesystem::absolute(env.args.Get("ca-file"), ec).string();
    if (ec || !std::filesystem::is_regular_file(ca_file, ec)) {
      return UsageError(env, "--ca-file " + env.args.Get("ca-file") + " is not a readable file");
    }
  }
  ApiClient anonymous(env.server, "", ca_file);
  ApiResult r = anonymous.Post("/api/v1/auth/login", {{"username", user}, {"password", *password}});
  if (!r.ok()) return Fail(env, *r.error);

  ClientConfig saved{env.server, r.body.value("token", ""), user, r.body.value("expires_at", ""),
                     ca_file};
  if (r.body.contains("user") && r.body["user"].is_object()) {
    saved.username = r.body["user"].value("username", user);
  }
  if (Status st = SaveConfig(env.config_path, saved); !st.ok()) return Fail(env, st.message());
  if (env.json) {
    PrintJson(
        env,
        {{"server", saved.server}, {"username", saved.username}, {"expires_at", saved.expires_at}});
    return 0;
  }
  env.io.out << "Logged in to " << saved.server << " as " << saved.username << " (session expires "
             << saved.expires_at << ")\n";
  return 0;
}

int CmdLogout(Env& env) {
  ClientConfig config = env.config;
  if (config.token.empty()) {
    env.io.out << "Not logged in.\n";
    return 0;
  }
  // Revoke the token on the server it came from; it is forgotten here either way, so that a
  // server that is gone for good cannot keep you logged in.
  std::string server = config.server.empty() ? kDefaultServer : config.server;
  ApiClient owner(server, config.token);
  ApiResult r = owner.Post("/api/v1/auth/logout", Json::object());
  // 401: the token had already expired or been revoked, which is what logging out wants.
  bool revoked = r.ok() || r.error->http_status == 401;
  if (!revoked) {
    env.io.err << "warning: could not revoke the token on " << server << " (" << r.error->message
               << "); it stays valid until " << config.expires_at << "\n";
  }
  config.token.clear();
  config.expires_at.clear();
  if (Status st = SaveConfig(env.config_path, config); !st.ok()) return Fail(env, st.message());
  if (env.json) {
    PrintJson(env, {{"server", server}, {"username", config.username}, {"revoked", revoked}});
    return 0;
  }
  env.io.out << "Logged out of " << server << (revoked ? " (token revoked)" : "") << ".\n";
  return 0;
}

int CmdWhoami(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/me");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  std::ostream& out = env.io.out;
  out << Str(r.body, "username") << " on " << env.server
      << (r.body.value("is_admin", false) ? " (platform admin)" : "") << "\n";
  if (env.config.server == env.server && !env.config.expires_at.empty()) {
    out << "session expires " << env.config.expires_at << "\n";
  }
  const Json& teams = Field(r.body, "teams");
  if (!teams.is_array() || teams.empty()) {
    out << "Not a member of any team.\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"TEAM", "ROLE"}};
  for (const auto& t : teams) rows.push_back({Str(t, "name"), Str(t, "role")});
  out << "\n" << RenderTable(rows);
  return 0;
}

}  // namespace kaas::cli
