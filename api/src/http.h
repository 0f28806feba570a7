#pragma once

// Internal to api/: the request context handlers see, their reply, and JSON helpers.

#include <atomic>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "kaas/api/server.h"
#include "kaas/common/metrics.h"
#include "kaas/common/status.h"
#include "kaas/common/text.h"

namespace kaas::api {

using Json = nlohmann::json;

struct Context {
  const ApiDeps& deps;
  std::string method;
  std::string path;
  std::map<std::string, std::string> params;  // from the route pattern
  std::multimap<std::string, std::string> query;
  std::string body;
  std::string remote_addr;
  std::string request_id;                       // X-Request-Id of the answer; in every log line
  std::string last_event_id;                    // Last-Event-ID header of an SSE reconnect
  std::string authorization;                    // the Authorization header (streams re-check it)
  const std::atomic<bool>* stopping = nullptr;  // set while the server shuts down
  auth::Principal principal;                    // set for every route but kAnyone ones

  // What the audit entry of this request says it was about; handlers fill these in.
  std::string audit_actor;  // defaults to principal.username
  std::string audit_team_id;
  std::string audit_object;

  // The query parameter or "" when absent.
  std::string Query(const std::string& key) const;
  // An integer query parameter in [min, max], `def` when absent; kInvalidArgument naming it
  // otherwise (also for garbage and overflow).
  Result<int64_t> QueryInt(const std::string& key, int64_t def, int64_t min, int64_t max) const;
  // ?dry_run=true|1; kInvalidArgument for anything else but false|0|absent.
  Result<bool> DryRun() const;
};

struct Reply {
  int status = 200;
  Json body;
  std::string raw;  // sent as is when not empty (text/plain or YAML)
  std::string content_type = "application/json";
  // A streamed body (server-sent events): called once; it writes chunks with `write` until it
  // returns false (client gone) or the stream ends.
  std::function<void(const std::function<bool(const std::string&)>& write)> stream;
};

using Handler = Result<Reply> (*)(Context&);

struct Route {
  RouteInfo info;
  Handler handler;
};

const std::vector<Route>& RouteTable();

// HTTP status for each error code (one table).
int HttpStatus(Code code);
// The Retry-After header of an error answer (0: none): the status's own (rate limits), else
// kUnavailableRetryAfterSeconds for every 503.
constexpr int64_t kUnavailableRetryAfterSeconds = 2;
int64_t RetryAfterSeconds(const Status& st);
Json ErrorBody(const Status& st);

// Body parsing: an object with only `allowed` keys, else kInvalidArgument naming the field.
Result<Json> ParseObject(const std::string& body, std::initializer_list<const char*> allowed);
// Strings are single-line, valid UTF-8 and at most kMaxTextBytes unless `max_bytes` says
// otherwise (kaas/common/text.h); GetText also allows newlines (reasons, comments).
Result<std::string> GetString(const Json& obj, const std::string& key, bool required,
                              const std::string& field_prefix = "");
Result<std::string> GetString(const Json& obj, const std::string& key, bool required,
                              size_t max_bytes, const std::string& field_prefix = "");
Result<std::string> GetText(const Json& obj, const std::string& key, bool required);
Result<int64_t> GetInt(const Json& obj, const std::string& key, bool required, int64_t def,
                       const std::string& field_prefix = "");

// Request metrics, recorded by the dispatcher into the process's registry. `route` is the
// route pattern ("static", "unmatched" otherwise), never a path: the series stay bounded.
class HttpMetrics {
 public:
  explicit HttpMetrics(metrics::Registry& registry);
  void Record(const std::string& method, const std::string& route, int status, double secs);

 private:
  metrics::CounterFamily& requests_;
  metrics::HistogramFamily& duration_;
};

// The request id of a request: the X-Request-Id a trusted proxy (--trusted-proxies) sent when
// it is a sane token (at most 64 characters of letters, digits and -_.:), else a new one.
std::string RequestIdOf(const std::string& header, bool from_trusted_proxy);

}  // namespace kaas::api
