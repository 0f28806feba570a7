#pragma once

// Test support: a real HTTP server on 127.0.0.1 that webhooks post to. It records every
// request and answers as scripted (a status after a delay), so that tests can see retries,
// timeouts and what kaasd sent.

#include <httplib.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace kaas::testing {

struct ReceivedRequest {
  std::string path;
  std::string body;
  nlohmann::json json;  // the body parsed (discarded when it is not JSON)
  std::map<std::string, std::string> headers;
  int answered = 0;  // the status it was answered with
};

struct ScriptedAnswer {
  int status = 200;
  int delay_ms = 0;  // sleeps this long before answering
};

class WebhookReceiver {
 public:
  // Listens on 127.0.0.1:`port` (0: a free one) until destroyed.
  explicit WebhookReceiver(int port = 0);
  ~WebhookReceiver();

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  // The next requests are answered in this order; after the script runs out, 200 at once
  // (or `then` when set).
  void Script(std::vector<ScriptedAnswer> answers);
  void Then(ScriptedAnswer then);

  std::vector<ReceivedRequest> received() const;
  // Requests being handled right now (e.g. sleeping before the answer).
  int in_flight() const;
  // Waits until `done(received())` holds; false after timeout_ms.
  bool WaitFor(const std::function<bool(const std::vector<ReceivedRequest>&)>& done,
               int timeout_ms);

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ScriptedAnswer> script_;
  ScriptedAnswer then_;
  std::vector<ReceivedRequest> received_;
  int in_flight_ = 0;
};

// "sha256=" + hex HMAC-SHA256, computed by the test itself with OpenSSL.
std::string HmacSha256Signature(const std::string& secret, const std::string& body);

}  // namespace kaas::testing
