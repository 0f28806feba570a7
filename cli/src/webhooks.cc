// webhook add|list|remove|test|deliveries: a team's webhooks (team admin) or the platform-wide
// ones (--platform, platform admin).

#include <iterator>
#include <ostream>

#include "commands.h"
#include "kaas/cli/render.h"
#include "kaas/common/strings.h"

namespace kaas::cli {
namespace {

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// The collection --team T or --platform names; "" after a usage error was printed.
std::string CollectionPath(Env& env, int* rc) {
  const bool platform = env.args.Has("platform");
  const std::string team = env.args.Get("team");
  if (platform == !team.empty()) {
    *rc = UsageError(env,
                     "name the team's webhooks with --team T, or --platform for the "
                     "platform-wide ones");
    return "";
  }
  return platform ? "/api/v1/webhooks" : "/api/v1/teams/" + UrlEncode(team) + "/webhooks";
}

std::string Events(const Json& w) {
  std::string out;
  for (const auto& e : w.value("events", Json::array())) {
    out += (out.empty() ? "" : ",") + e.get<std::string>();
  }
  return out;
}

}  // namespace

int CmdWebhookAdd(Env& env) {
  int rc = 0;
  std::string path = CollectionPath(env, &rc);
  if (path.empty()) return rc;
  const std::string format = env.args.Get("format", "json");
  if (format != "json" && format != "slack")
    return UsageError(env, "--format must be json or slack");
  std::vector<std::string> events = Split(env.args.Get("events"), ',');
  if (events.empty()) {
    return UsageError(env, "--events is required: e.g. operation.failed,cluster.created");
  }
  Json body{{"url", env.args.positional[0]}, {"format", format}, {"events", events}};
  if (env.args.Has("secret-stdin")) {
    std::string secret((std::istreambuf_iterator<char>(env.io.in)),
                       std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) return UsageError(env, "the secret on stdin is empty");
    body["secret"] = secret;
  }
  ApiResult r = env.Api().Post(path, body);
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Added webhook " << Str(r.body, "id") << " (" << Str(r.body, "format") << ", "
             << (r.body.value("signed", false) ? "signed" : "unsigned") << ") for "
             << Events(r.body) << "\n"
             << "Send it a test with: kaas webhook test " << Str(r.body, "id") << "\n";
  return 0;
}

int CmdWebhookList(Env& env) {
  int rc = 0;
  std::string path = CollectionPath(env, &rc);
  if (path.empty()) return rc;
  return PrintList(env, env.Api().Get(path), "No webhooks.",
                   {"ID", "URL", "FORMAT", "EVENTS", "SIGNED", "ENABLED", "CREATED BY"},
                   [](const Json& w) {
                     std::string enabled = w.value("enabled", false) ? "yes" : "no";
                     if (!Str(w, "disabled_reason").empty()) {
                       enabled += " (" + Str(w, "disabled_reason") + ")";
                     }
                     return std::vector<std::string>{Str(w, "id"),
                                                     Str(w, "url"),
                                                     Str(w, "format"),
                                                     Events(w),
                                                     w.value("signed", false) ? "yes" : "no",
                                                     enabled,
                                                     Str(w, "created_by")};
                   });
}

int CmdWebhookRemove(Env& env) {
  const std::string& id = env.args.positional[0];
  ApiResult r = env.Api().Delete("/api/v1/webhooks/" + UrlEncode(id));
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, Json{{"id", id}, {"deleted", true}});
    return 0;
  }
  env.io.out << "Removed webhook " << id << "\n";
  return 0;
}

int CmdWebhookTest(Env& env) {
  const std::string& id = env.args.positional[0];
  ApiResult r = env.Api().Post("/api/v1/webhooks/" + UrlEncode(id) + "/test", Json::object());
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Queued test notification " << Str(r.body, "event_id") << " to webhook " << id
             << "\n"
             << "See the attempts with: kaas webhook deliveries " << id << "\n";
  return 0;
}

int CmdWebhookDeliveries(Env& env) {
  const std::string& id = env.args.positional[0];
  std::string path = "/api/v1/webhooks/" + UrlEncode(id) + "/deliveries";
  if (env.args.Has("limit")) {
    auto n = ParseInt(env.args.Get("limit"));
    if (!n || *n < 1 || *n > 1000) return UsageError(env, "--limit must be 1 to 1000");
    path += "?limit=" + std::to_string(*n);
  }
  return PrintList(env, env.Api().Get(path), "No delivery attempts yet.",
                   {"AT", "EVENT", "TYPE", "ATTEMPT", "STATUS", "ERROR", "NEXT RETRY"},
                   [](const Json& d) {
                     const Json& code = Field(d, "status_code");
                     return std::vector<std::string>{Str(d, "at"),
                                                     Str(d, "event_id"),
                                                     Str(d, "type"),
                                                     Field(d, "attempt").dump(),
                                                     code.is_number() ? code.dump() : "-",
                                                     OrDash(Str(d, "error")),
                                                     OrDash(Str(d, "next_retry_at"))};
                   });
}

}  // namespace kaas::cli
