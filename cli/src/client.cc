#include "client.h"

#include <httplib.h>

#include <regex>

namespace kaas::cli {

struct ApiClient::Impl {
  explicit Impl(const std::string& server) : http(server) {}
  httplib::Client http;
  httplib::Headers headers;
};

namespace {

std::string Describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or host unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "the connection broke while reading the reply";
    case httplib::Error::Write:
      return "the connection broke while sending the request";
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification:
      return "TLS handshake failed";
    default:
      return httplib::to_string(e);
  }
}

ApiResult Unreachable(const std::string& server, httplib::Error e) {
  return ApiResult::Fail("cannot reach kaasd at " + server + ": " + Describe(e) +
                         " (is kaasd running there? pass --server URL to use another)");
}

ApiResult FromReply(const std::string& server, int status, const std::string& text) {
  Json body = text.empty() ? Json() : Json::parse(text, nullptr, false);
  bool ok = status >= 200 && status < 300;
  if (ok && !body.is_discarded()) return {body, std::nullopt};
  if (!ok && body.is_object() && body.contains("error") && body["error"].is_object()) {
    const Json& e = body["error"];
    ApiError err{status, e.value("code", ""), e.value("message", ""), Json::object()};
    if (e.contains("details") && e["details"].is_object()) err.details = e["details"];
    return {Json(), err};
  }
  std::string snippet = text.substr(0, 200);
  return {Json(), ApiError{status, "",
                           "unexpected reply from " + server + " (HTTP " + std::to_string(status) +
                               "): " + snippet,
                           Json::object()}};
}

ApiResult FromHttp(const std::string& server, const httplib::Result& res) {
  if (!res) return Unreachable(server, res.error());
  return FromReply(server, res->status, res->body);
}

}  // namespace

namespace {

void Trust(httplib::Client& http, const std::string& ca_file) {
  if (ca_file.empty()) return;
  http.set_ca_cert_path(ca_file.c_str());
  http.enable_server_certificate_verification(true);
}

}  // namespace

ApiClient::ApiClient(std::string server, std::string token, std::string ca_file)
    : server_(std::move(server)),
      ca_file_(std::move(ca_file)),
      impl_(std::make_unique<Impl>(server_)) {
  Trust(impl_->http, ca_file_);
  impl_->http.set_connection_timeout(5);
  impl_->http.set_read_timeout(30);
  impl_->http.set_keep_alive(true);
  impl_->headers.emplace("Accept", "application/json");
  if (!token.empty()) impl_->headers.emplace("Authorization", "Bearer " + token);
}

ApiClient::~ApiClient() = default;

ApiResult ApiClient::Get(const std::string& path) {
  return FromHttp(server_, impl_->http.Get(path, impl_->headers));
}

ApiResult ApiClient::Post(const std::string& path, const Json& body) {
  return FromHttp(server_, impl_->http.Post(path, impl_->headers, body.dump(), "application/json"));
}

ApiResult ApiClient::Put(const std::string& path, const Json& body) {
  return FromHttp(server_, impl_->http.Put(path, impl_->headers, body.dump(), "application/json"));
}

ApiResult ApiClient::Patch(const std::string& path, const Json& body) {
  return FromHttp(server_,
                  impl_->http.Patch(path, impl_->headers, body.dump(), "application/json"));
}

ApiResult ApiClient::GetText(const std::string& path, const std::string& accept,
                             std::string& text) {
  httplib::Headers headers = impl_->headers;
  headers.erase("Accept");
  // Error replies are still JSON.
  headers.emplace("Accept", accept + ", application/json");
  httplib::Result res = impl_->http.Get(path, headers);
  if (res && res->status >= 200 && res->status < 300) {
    text = res->body;
    return {Json(), std::nullopt};
  }
  return FromHttp(server_, res);
}

ApiResult ApiClient::Stream(const std::string& path, const std::string& last_event_id,
                            const std::function<bool(std::string_view)>& on_data, bool& accepted) {
  accepted = false;
  httplib::Client http(server_);
  Trust(http, ca_file_);
  http.set_connection_timeout(5);
  // kaasd sends a keep-alive comment after 10 idle seconds: a longer silence is a dead link.
  http.set_read_timeout(30);
  httplib::Headers headers = impl_->headers;
  headers.erase("Accept");
  headers.emplace("Accept", "text/event-stream, application/json");
  if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
  int status = 0;
  std::string refusal;  // the body of a non-2xx reply
  bool stopped = false;
  httplib::Result res = http.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        accepted = status >= 200 && status < 300;
        return true;
      },
      [&](const char* data, size_t n) {
        if (!accepted) {
          refusal.append(data, n);
          return true;
        }
        if (on_data(std::string_view(data, n))) return true;
        stopped = true;
        return false;
      });
  if (stopped || (res && accepted)) return {Json(), std::nullopt};
  if (!accepted && status != 0) return FromReply(server_, status, refusal);
  if (!accepted && res) return FromReply(server_, res->status, refusal);
  if (!accepted) return Unreachable(server_, res.error());
  return ApiResult::Fail("the event stream from " + server_ + " broke: " + Describe(res.error()));
}

ApiResult ApiClient::Delete(const std::string& path) {
  return FromHttp(server_, impl_->http.Delete(path, impl_->headers));
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Num(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->dump() : "";
}

int Int(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
}

const Json& Field(const Json& j, const char* key) {
  static const Json kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

bool IsServerUrl(const std::string& url) {
  static const std::regex kUrl(
      R"(https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?)");
  return std::regex_match(url, kUrl);
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace kaas::cli
