// operation show|cancel|retry, operations, and the --watch loop every mutating command can
// end in.

#include <cctype>
#include <chrono>
#include <optional>
#include <ostream>
#include <thread>

#include "commands.h"
#include "kaas/cli/events.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(300);
// Consecutive polls that may fail for want of a server (restart, network blip) before
// --watch gives up: about 15 seconds.
constexpr int kMaxUnreachablePolls = 50;
// Consecutive connections to the event stream that may bring no event (it broke, the server
// restarts) before --watch falls back to polling, and the pause before each reconnect.
constexpr int kMaxFruitlessStreams = 5;
constexpr auto kReconnectDelay = std::chrono::milliseconds(500);
// How long the stream may go without news of the operation before --watch asks for it: a
// safety net for events it cannot see. kaasd sends a keep-alive after 10 idle seconds.
constexpr auto kQuietCheck = std::chrono::seconds(5);

OperationView ToView(const Json& op) {
  OperationView v{Str(op, "id"),    Str(op, "type"),     Str(op, "state"),
                  Str(op, "error"), Int(op, "progress"), {}};
  auto steps = op.find("steps");
  if (steps == op.end() || !steps->is_array()) return v;
  for (const auto& s : *steps) {
    v.steps.push_back({Str(s, "name"), Str(s, "state"), Str(s, "message"), Int(s, "attempts")});
  }
  return v;
}

std::string OperationPath(const std::string& id) { return "/api/v1/operations/" + UrlEncode(id); }

// GET of the operation, waiting out a missing server for a while.
ApiResult FetchOperation(Env& env, const std::string& id) {
  int unreachable = 0;
  while (true) {
    ApiResult r = env.Api().Get(OperationPath(id));
    if (r.ok()) return r;
    // Only the absence of a server is worth waiting out; a refusal will not change.
    bool transient = r.error->http_status == 0 || r.error->http_status >= 500;
    if (!transient || ++unreachable > kMaxUnreachablePolls) return r;
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Draws the operation at the same place on each call, replacing what it drew before.
class InPlaceView {
 public:
  InPlaceView(std::ostream& out, int width) : out_(out), width_(width > 1 ? width - 1 : 79) {}

  void Draw(const OperationView& op) {
    std::vector<std::string> lines = RenderOperation(op);
    for (auto& l : lines) l = Truncate(l, static_cast<size_t>(width_));
    if (lines == drawn_) return;
    // Cursor up to the first line drawn last time, then clear to the end of the screen.
    if (!drawn_.empty()) out_ << "\x1b[" << drawn_.size() << "A\r\x1b[J";
    for (const auto& l : lines) out_ << l << "\n";
    out_.flush();
    drawn_ = std::move(lines);
  }

 private:
  std::ostream& out_;
  int width_;
  std::vector<std::string> drawn_;
};

// For logs and pipes: one line each time a step changes state or starts another attempt.
class LogView {
 public:
  explicit LogView(std::ostream& out) : out_(out) {}

  void Draw(const OperationView& op) {
    if (!started_) out_ << "operation " << op.id << " (" << op.type << ")\n";
    started_ = true;
    seen_.resize(op.steps.size());
    for (size_t i = 0; i < op.steps.size(); ++i) {
      const StepView& s = op.steps[i];
      std::string key = s.state + "/" + std::to_string(s.attempts);
      if (seen_[i] == key) continue;
      seen_[i] = key;
      out_ << "  " << RenderStep(s) << "\n";
    }
    out_.flush();
  }

  void Finish(const OperationView& op) { out_ << ProgressBar(op.progress) << "\n"; }

 private:
  std::ostream& out_;
  bool started_ = false;
  std::vector<std::string> seen_;
};

// What --watch shows: redrawn in place on a terminal, a log of changes elsewhere, nothing
// but the final JSON with --output json.
class Display {
 public:
  explicit Display(Env& env)
      : env_(env),
        in_place_(env.io.out, env.io.terminal_width),
        log_(env.io.out),
        tty_(env.io.out_is_tty && !env.json) {}

  void Draw(const OperationView& view) {
    if (tty_) {
      in_place_.Draw(view);
    } else if (!env_.json) {
      log_.Draw(view);
    }
  }

  // Prints how the operation `op` (its final JSON) ended; the exit code.
  int Finish(const Json& op) {
    OperationView view = ToView(op);
    Draw(view);
    if (env_.json) {
      PrintJson(env_, op);
    } else if (!tty_) {
      log_.Finish(view);
    }
    if (view.state == "succeeded") {
      if (!env_.json) env_.io.out << "operation " << view.id << " succeeded\n";
      return 0;
    }
    std::string why = view.error.empty() ? "" : ": " + view.error;
    return Fail(env_, "operation " + view.id + " " + view.state + why);
  }

 private:
  Env& env_;
  InPlaceView in_place_;
  LogView log_;
  bool tty_;
};

// Where the event stream of the operation's cluster may start: just before the operation.
// Ids are "<prefix>-<12 hex ms><4 hex sequence><6 hex random>" and sort in the order kaasd
// made them, so every event of an operation sorts after "ev-" and its id's time and sequence.
// Empty (the whole history) for an id of another shape.
std::string EventsBound(const std::string& op_id) {
  constexpr size_t kStamp = 16;
  size_t dash = op_id.find('-');
  if (dash == std::string::npos || op_id.size() < dash + 1 + kStamp) return "";
  std::string stamp = op_id.substr(dash + 1, kStamp);
  for (char c : stamp) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
  }
  return "ev-" + stamp;
}

struct Followed {
  bool finished = false;  // `op` is the operation's final JSON
  Json op;
  std::optional<ApiError> error;  // asking kaasd about the operation failed
  std::string unavailable;        // why the stream could not be followed (then: poll)
};

// Follows operation `snapshot` through the server-sent events of its cluster until it ends.
// The stream starts just before the operation, so the events rebuild it from its start and
// a log shows each transition once, in order.
Followed FollowEvents(Env& env, Display& display, const Json& snapshot) {
  const std::string id = Str(snapshot, "id");
  OperationView view = ToView(snapshot);
  view.state = "pending";
  view.error.clear();
  view.progress = 0;
  for (auto& s : view.steps) s = {s.name, "pending", "", 0};
  display.Draw(view);

  std::string path = "/api/v1/clusters/" + UrlEncode(Str(snapshot, "cluster_id")) + "/events";
  if (std::string after = EventsBound(id); !after.empty()) path += "?after=" + UrlEncode(after);
  Followed result;
  std::string last_id;
  bool ever_accepted = false;
  int fruitless = 0;
  auto last_news = std::chrono::steady_clock::now();

  // Asks kaasd whether the operation ended; true when it did or asking failed.
  auto settled = [&] {
    last_news = std::chrono::steady_clock::now();
    ApiResult now = FetchOperation(env, id);
    if (!now.ok()) {
      result.error = now.error;
      return true;
    }
    if (!OperationFinished(Str(now.body, "state"))) return false;
    result.finished = true;
    result.op = now.body;
    return true;
  };

  while (true) {
    SseParser parser;  // a line cut by a broken connection is not completed by the next one
    bool got_event = false;
    bool accepted = false;
    ApiResult r = env.Api().Stream(
        path, last_id,
        [&](std::string_view chunk) {
          for (const SseEvent& e : parser.Feed(chunk)) {
            got_event = true;
            if (!e.id.empty()) last_id = e.id;
            if (!ApplyEvent(view, e)) continue;
            last_news = std::chrono::steady_clock::now();
            display.Draw(view);
            // An ending seen in the replay may be that of an earlier run of a retried
            // operation: only kaasd's word ends the watch.
            if (e.event == "operation" && OperationFinished(view.state) && settled()) return false;
          }
          if (std::chrono::steady_clock::now() - last_news > kQuietCheck && settled()) return false;
          return true;
        },
        accepted);
    if (result.finished || result.error) return result;
    ever_accepted |= accepted;
    if (!ever_accepted) {
      // No stream at all (an older kaasd, a proxy in the way): polling still works.
      result.unavailable = r.ok() ? "no events" : r.error->message;
      return result;
    }
    fruitless = got_event ? 0 : fruitless + 1;
    if (fruitless >= kMaxFruitlessStreams) {
      result.unavailable = r.ok() ? "the stream keeps ending" : r.error->message;
      return result;
    }
    // The server closed the stream (a restart) or it broke: resume after the last event.
    std::this_thread::sleep_for(kReconnectDelay);
  }
}

// The fallback: GET of the operation every 300 ms.
int PollOperation(Env& env, Display& display, const std::string& id) {
  while (true) {
    ApiResult r = FetchOperation(env, id);
    if (!r.ok()) return Fail(env, *r.error);
    if (OperationFinished(Str(r.body, "state"))) return display.Finish(r.body);
    display.Draw(ToView(r.body));
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace

int WatchOperation(Env& env, const std::string& id) {
  Display display(env);
  ApiResult r = FetchOperation(env, id);
  if (!r.ok()) return Fail(env, *r.error);
  if (OperationFinished(Str(r.body, "state"))) return display.Finish(r.body);
  Followed f = FollowEvents(env, display, r.body);
  if (f.error) return Fail(env, *f.error);
  if (f.finished) return display.Finish(f.op);
  env.io.err << "note: following operation " << id << " by polling (event stream: " << f.unavailable
             << ")\n";
  return PollOperation(env, display, id);
}

int CmdOperationShow(Env& env) {
  const std::string& id = env.args.positional[0];
  if (env.args.Has("watch")) return WatchOperation(env, id);
  ApiResult r = env.Api().Get(OperationPath(id));
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  const Json& op = r.body;
  std::ostream& out = env.io.out;
  for (const auto& line : RenderOperation(ToView(op))) out << line << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"cluster:", Str(op, "cluster_id")},
      {"requested by:", Str(op, "requested_by")},
      {"created:", Str(op, "created_at")},
  };
  if (!Str(op, "finished_at").empty()) rows.push_back({"finished:", Str(op, "finished_at")});
  if (!Str(op, "error").empty()) rows.push_back({"error:", Str(op, "error")});
  out << RenderTable(rows);
  return 0;
}

int CmdOperationCancel(Env& env) {
  const std::string& id = env.args.positional[0];
  ApiResult r = env.Api().Post(OperationPath(id) + "/cancel", Json::object());
  if (!r.ok()) return Fail(env, *r.error);
  if (env.json) {
    PrintJson(env, r.body);
    return 0;
  }
  env.io.out << "Cancelling operation " << id
             << ": it stops at the next step boundary that leaves the cluster consistent.\n"
             << "Follow it with: kaas operation show " << id << " --watch\n";
  return 0;
}

int CmdOperationRetry(Env& env) {
  const std::string& id = env.args.positional[0];
  ApiResult r = env.Api().Post(OperationPath(id) + "/retry", Json::object());
  if (!r.ok()) return Fail(env, *r.error);
  bool watch = env.args.Has("watch");
  if (env.json) {
    if (!watch) PrintJson(env, r.body);
  } else {
    env.io.out << "Retrying operation " << id << " from its first unfinished step\n";
    if (!watch) env.io.out << "Follow it with: kaas operation show " << id << " --watch\n";
  }
  return watch ? WatchOperation(env, id) : 0;
}

int CmdOperations(Env& env) {
  ApiResult found = ResolveCluster(env, env.args.positional[0]);
  if (!found.ok()) return Fail(env, *found.error);
  return PrintList(
      env, env.Api().Get("/api/v1/clusters/" + UrlEncode(Str(found.body, "id")) + "/operations"),
      "No operations.", {"ID", "TYPE", "STATE", "PROGRESS", "CREATED", "REQUESTED BY"},
      [](const Json& op) {  // newest first
        return std::vector<std::string>{
            Str(op, "id"),         Str(op, "type"),
            Str(op, "state"),      std::to_string(Int(op, "progress")) + "%",
            Str(op, "created_at"), Str(op, "requested_by")};
      });
}

}  // namespace kaas::cli
