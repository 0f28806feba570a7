// login, logout, whoami.

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "commands.h"

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

int CmdLogin(Env& env) {
  std::string user = env.args.Get("user", "admin");
  std::string password;
  if (env.args.Has("password-stdin")) {
    password = ReadPasswordFromStdin(env.io.in);
  } else {
    auto typed = PromptPassword("Password for " + user + " at " + env.server + ": ");
    if (!typed.ok()) return UsageError(env, typed.status().message());
    password = std::move(typed).value();
  }
  if (password.empty()) return UsageError(env, "the password is empty");

  ApiClient anonymous(env.server, "");
  ApiResult r = anonymous.Post("/api/v1/auth/login", {{"username", user}, {"password", password}});
  if (!r.ok()) return Fail(env, *r.error);

  ClientConfig saved{env.server, r.body.value("token", ""), user, r.body.value("expires_at", "")};
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
  // Revoke on the server when it offers that; the local token is forgotten either way.
  ApiClient owner(config.server.empty() ? kDefaultServer : config.server, config.token);
  ApiResult r = owner.Post("/api/v1/auth/logout", Json::object());
  if (!r.ok() && r.error->http_status != 401 && r.error->http_status != 404) {
    env.io.err << "warning: could not revoke the token on the server (" << r.error->message
               << "); it stays valid until " << config.expires_at << "\n";
  }
  config.token.clear();
  config.expires_at.clear();
  if (Status st = SaveConfig(env.config_path, config); !st.ok()) return Fail(env, st.message());
  env.io.out << "Logged out of " << config.server << ".\n";
  return 0;
}

int CmdWhoami(Env& env) {
  ApiResult r = env.Api().Get("/api/v1/me");
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << r.body.value("username", "") << " on " << env.server
             << (r.body.value("is_admin", false) ? " (platform admin)" : "") << "\n";
  std::string teams;
  for (const auto& t : r.body.value("teams", Json::array())) {
    if (!teams.empty()) teams += ", ";
    teams += t.value("name", "") + " (" + t.value("role", "") + ")";
  }
  env.io.out << "teams: " << (teams.empty() ? "none" : teams) << "\n";
  if (env.config.server == env.server && !env.config.expires_at.empty()) {
    env.io.out << "session expires " << env.config.expires_at << "\n";
  }
  return 0;
}

}  // namespace kaas::cli
