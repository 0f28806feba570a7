// operation show, and the --watch loop every mutating command can end in.

#include <chrono>
#include <ostream>
#include <thread>

#include "commands.h"
#include "kaas/cli/render.h"

namespace kaas::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(300);
// Consecutive polls that may fail for want of a server (restart, network blip) before
// --watch gives up: about 15 seconds.
constexpr int kMaxUnreachablePolls = 50;

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

bool Finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
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
    if (seen_.empty()) out_ << "operation " << op.id << " (" << op.type << ")\n";
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
  std::vector<std::string> seen_;
};

}  // namespace

int WatchOperation(Env& env, const std::string& id) {
  InPlaceView in_place(env.io.out, env.io.terminal_width);
  LogView log(env.io.out);
  bool tty = env.io.out_is_tty && !env.json;
  int unreachable = 0;
  Json op;
  while (true) {
    ApiResult r = env.Api().Get("/api/v1/operations/" + UrlEncode(id));
    if (!r.ok()) {
      // Only the absence of a server is worth waiting out; a refusal will not change.
      bool transient = r.error->http_status == 0 || r.error->http_status >= 500;
      if (!transient || ++unreachable > kMaxUnreachablePolls) return Fail(env, *r.error);
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    unreachable = 0;
    op = r.body;
    OperationView view = ToView(op);
    if (tty) {
      in_place.Draw(view);
    } else if (!env.json) {
      log.Draw(view);
    }
    if (Finished(view.state)) break;
    std::this_thread::sleep_for(kPollInterval);
  }

  OperationView view = ToView(op);
  if (env.json) {
    PrintJson(env, op);
  } else if (!tty) {
    log.Finish(view);
  }
  if (view.state == "succeeded") {
    if (!env.json) env.io.out << "operation " << view.id << " succeeded\n";
    return 0;
  }
  std::string why = view.error.empty() ? "" : ": " + view.error;
  return Fail(env, "operation " + view.id + " " + view.state + why);
}

int CmdOperationShow(Env& env) {
  const std::string& id = env.args.positional[0];
  if (env.args.Has("watch")) return WatchOperation(env, id);
  ApiResult r = env.Api().Get("/api/v1/operations/" + UrlEncode(id));
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

}  // namespace kaas::cli
