#include "webhook_receiver.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cstdio>

namespace kaas::testing {

WebhookReceiver::WebhookReceiver(int port) {
  server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    ScriptedAnswer answer;
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
      if (!script_.empty()) {
        answer = script_.front();
        script_.pop_front();
      } else {
        answer = then_;
      }
    }
    if (answer.delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(answer.delay_ms));
    ReceivedRequest r{
        req.path, req.body, nlohmann::json::parse(req.body, nullptr, false), {}, answer.status};
    for (const auto& [k, v] : req.headers) r.headers[k] = v;
    res.status = answer.status;
    res.set_content("{}", "application/json");
    {
      std::lock_guard lock(mu_);
      --in_flight_;
      received_.push_back(std::move(r));
    }
    cv_.notify_all();
  });
  if (port == 0) {
    port_ = server_.bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_.bind_to_port("127.0.0.1", port) ? port : -1;
  }
  // Bound already: connections queue until the loop accepts them.
  thread_ = std::thread([this] { server_.listen_after_bind(); });
}

WebhookReceiver::~WebhookReceiver() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::Script(std::vector<ScriptedAnswer> answers) {
  std::lock_guard lock(mu_);
  script_.assign(answers.begin(), answers.end());
}

void WebhookReceiver::Then(ScriptedAnswer then) {
  std::lock_guard lock(mu_);
  then_ = then;
}

std::vector<ReceivedRequest> WebhookReceiver::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

int WebhookReceiver::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool WebhookReceiver::WaitFor(const std::function<bool(const std::vector<ReceivedRequest>&)>& done,
                              int timeout_ms) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done(received_); });
}

std::string HmacSha256Signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex = "sha256=";
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace kaas::testing
