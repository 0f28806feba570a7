#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace kaas::cli {

using Json = nlohmann::json;

// Why a request gave no 2xx reply: kaasd's error body, or a local reason.
struct ApiError {
  int http_status = 0;  // 0 when there was no HTTP reply (unreachable server, local error)
  std::string code;     // the API's error code ("invalid_argument"); empty for local errors
  std::string message;
  Json details = Json::object();
};

// A 2xx reply's JSON body (null when the reply had none), or the error.
struct ApiResult {
  Json body;
  std::optional<ApiError> error;

  bool ok() const { return !error; }
  static ApiResult Fail(std::string message) { return {Json(), ApiError{0, "", message, {}}}; }
};

// Speaks the /api/v1 contract to one kaasd over HTTP(S), keeping the connection alive
// between calls (--watch polls through it).
class ApiClient {
 public:
  // `server` is a base URL that passed IsServerUrl(); `token` may be empty (not logged in).
  // `ca_file`: PEM CA certificates that an https server's certificate must chain to instead
  // of the system's (a private CA); "" = the system's trust store.
  ApiClient(std::string server, std::string token, std::string ca_file = "");
  ~ApiClient();

  const std::string& server() const { return server_; }

  ApiResult Get(const std::string& path);
  ApiResult Post(const std::string& path, const Json& body);
  ApiResult Put(const std::string& path, const Json& body);
  ApiResult Patch(const std::string& path, const Json& body);
  ApiResult Delete(const std::string& path);

  // GET of a document that is not JSON (a kubeconfig's YAML): a 2xx reply's body goes to
  // `text` and the result's body stays null; errors come back as for Get.
  ApiResult GetText(const std::string& path, const std::string& accept, std::string& text);

  // GET of a server-sent events stream on a connection of its own, so that other calls can
  // go on meanwhile: `on_data` gets the body's bytes as they arrive and ends the stream by
  // returning false. A non-empty `last_event_id` resumes a broken stream after that event.
  // `accepted` tells whether the server answered 2xx: the result is then ok when the stream
  // ended (the server closed it, or on_data stopped it) and an error when it broke. A refusal
  // comes back as for Get.
  ApiResult Stream(const std::string& path, const std::string& last_event_id,
                   const std::function<bool(std::string_view)>& on_data, bool& accepted);

 private:
  struct Impl;
  std::string server_;
  std::string ca_file_;
  std::unique_ptr<Impl> impl_;
};

// Lenient readers of reply fields, for rendering: they give ""/0/null when the field is
// missing or of another type instead of throwing.
std::string Str(const Json& j, const char* key);
std::string Num(const Json& j, const char* key);  // a number as text: "4"
int Int(const Json& j, const char* key);
const Json& Field(const Json& j, const char* key);

// Whether `url` is "http(s)://host[:port]" with nothing after the authority.
bool IsServerUrl(const std::string& url);

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& s);

}  // namespace kaas::cli
