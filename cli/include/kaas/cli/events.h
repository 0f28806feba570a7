#pragma once

// Reading kaasd's server-sent event streams (GET /api/v1/clusters/{id}/events) and following
// an operation through them: what --watch draws from.

#include <string>
#include <string_view>
#include <vector>

#include "kaas/cli/render.h"

namespace kaas::cli {

struct SseEvent {
  std::string id;     // the stream's last event id when the event was dispatched
  std::string event;  // "message" when the event named none
  std::string data;   // its data lines joined by '\n'
};

// Splits a text/event-stream body into events as its bytes arrive, in chunks of any size
// and cut anywhere, by the EventSource rules: LF, CRLF or CR line ends; ':' comments (the
// keep-alives); one space after the colon dropped; unknown fields and events without data
// ignored; an id lasts until the next one.
class SseParser {
 public:
  // The events that `chunk` completes, in order.
  std::vector<SseEvent> Feed(std::string_view chunk);

  // What a reconnect sends as Last-Event-ID: the last id the stream gave.
  const std::string& last_event_id() const { return last_id_; }

 private:
  void Line(const std::string& line, std::vector<SseEvent>& out);

  std::string line_;
  bool after_cr_ = false;  // the last byte was CR: a following LF ends no second line
  std::string event_;
  std::string data_;
  bool has_data_ = false;
  std::string last_id_;
};

// Applies one event of a cluster's stream to `op` when it is about op.id: an `operation`
// event sets its state, error and progress; a `step` event the state, message and attempts
// of one step (by index, else by name), and the progress that follows from them. Other
// events, other operations' and data that is not JSON leave `op` alone. Returns whether
// `op` changed.
bool ApplyEvent(OperationView& op, const SseEvent& event);

// Whether an operation in `state` has ended: succeeded, failed or cancelled.
bool OperationFinished(const std::string& state);

}  // namespace kaas::cli
