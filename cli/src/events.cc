#include "kaas/cli/events.h"

#include "client.h"

namespace kaas::cli {

std::vector<SseEvent> SseParser::Feed(std::string_view chunk) {
  std::vector<SseEvent> out;
  for (char c : chunk) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(line_, out);
      line_.clear();
    } else {
      line_ += c;
    }
  }
  return out;
}

void SseParser::Line(const std::string& line, std::vector<SseEvent>& out) {
  if (line.empty()) {  // a blank line dispatches the event gathered so far
    if (has_data_) {
      if (!data_.empty() && data_.back() == '\n') data_.pop_back();
      out.push_back({last_id_, event_.empty() ? "message" : event_, data_});
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // a comment: keep-alive
  size_t colon = line.find(':');
  std::string field = line.substr(0, colon);
  std::string value;
  if (colon != std::string::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
  }
  if (field == "event") {
    event_ = value;
  } else if (field == "data") {
    data_ += value + "\n";
    has_data_ = true;
  } else if (field == "id") {
    if (value.find('\0') == std::string::npos) last_id_ = value;
  }
}

bool OperationFinished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

bool ApplyEvent(OperationView& op, const SseEvent& event) {
  if (event.event != "operation" && event.event != "step") return false;
  Json d = Json::parse(event.data, nullptr, false);
  if (!d.is_object() || Str(d, "operation") != op.id) return false;
  auto set = [](auto& field, const auto& value) {
    if (field == value) return false;
    field = value;
    return true;
  };
  bool changed = false;
  if (event.event == "operation") {
    if (d.contains("state")) changed |= set(op.state, Str(d, "state"));
    if (d.contains("error")) changed |= set(op.error, Str(d, "error"));
    if (d.contains("progress")) changed |= set(op.progress, Int(d, "progress"));
    if (!Str(d, "type").empty()) changed |= set(op.type, Str(d, "type"));
    return changed;
  }
  std::string name = Str(d, "name");
  StepView* step = nullptr;
  int index = Int(d, "index");
  if (d.contains("index") && index >= 0 && static_cast<size_t>(index) < op.steps.size() &&
      (name.empty() || op.steps[static_cast<size_t>(index)].name == name)) {
    step = &op.steps[static_cast<size_t>(index)];
  }
  for (size_t i = 0; !step && i < op.steps.size(); ++i) {
    if (op.steps[i].name == name) step = &op.steps[i];
  }
  if (!step) {
    if (name.empty()) return false;
    op.steps.push_back({name, "pending", "", 0});
    step = &op.steps.back();
    changed = true;
  }
  if (d.contains("state")) changed |= set(step->state, Str(d, "state"));
  if (d.contains("message")) changed |= set(step->message, Str(d, "message"));
  if (d.contains("attempts")) changed |= set(step->attempts, Int(d, "attempts"));
  // As kaasd reckons it: the share of steps that succeeded.
  size_t done = 0;
  for (const auto& s : op.steps) done += s.state == "succeeded";
  changed |= set(op.progress, static_cast<int>(done * 100 / op.steps.size()));
  return changed;
}

}  // namespace kaas::cli
