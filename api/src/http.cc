#include "http.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <mutex>

namespace kaas::api {

std::string Context::Query(const std::string& key) const {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

Result<int64_t> Context::QueryInt(const std::string& key, int64_t def, int64_t min,
                                  int64_t max) const {
  std::string v = Query(key);
  if (v.empty()) return def;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || n < min || n > max) {
    std::string range =
        max == std::numeric_limits<int64_t>::max()
            ? "an integer >= " + std::to_string(min)
            : "an integer between " + std::to_string(min) + " and " + std::to_string(max);
    return InvalidArgument(key, key + " must be " + range);
  }
  return static_cast<int64_t>(n);
}

Result<bool> Context::DryRun() const {
  std::string v = Query("dry_run");
  if (v.empty() || v == "false" || v == "0") return false;
  if (v == "true" || v == "1") return true;
  return InvalidArgument("dry_run", "dry_run must be true or false");
}

int HttpStatus(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kConflict:
    case Code::kOperationInProgress:
    case Code::kFailedPrecondition:
    case Code::kCancelled:
      return 409;
    case Code::kPayloadTooLarge:
      return 413;
    case Code::kQuotaExceeded:
    case Code::kInsufficientCapacity:
    case Code::kInvalidUpgrade:
      return 422;
    case Code::kRateLimited:
      return 429;
    case Code::kUnavailable:
      return 503;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

int64_t RetryAfterSeconds(const Status& st) {
  if (st.retry_after_s() > 0) return st.retry_after_s();
  // 503 is always temporary here (database away, a hypervisor not answering): ask for a retry
  // soon rather than leave clients to guess.
  if (HttpStatus(st.code()) == 503) return kUnavailableRetryAfterSeconds;
  return 0;
}

Json ErrorBody(const Status& st) {
  Json details = Json::object();
  if (!st.field().empty()) details["field"] = st.field();
  if (!st.shortfalls().empty()) {
    Json list = Json::array();
    for (const auto& s : st.shortfalls()) {
      list.push_back({{"resource", s.resource},
                      {"requested", s.requested},
                      {"used", s.used},
                      {"limit", s.limit}});
    }
    // The first shortfall also at the top level, so a single-resource refusal reads simply.
    details.update(list.front());
    details["exceeded"] = list;
  }
  return {{"error",
           {{
                "code",
                CodeName(st.code()),
            },
            {"message", st.message()},
            {"details", details}}}};
}

Result<Json> ParseObject(const std::string& body, std::initializer_list<const char*> allowed) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("body", "request body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("body", "request body must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      std::string shown = Sanitized(key, kMaxNameBytes);
      return InvalidArgument(shown, "unknown field " + shown);
    }
  }
  return j;
}

namespace {

Result<std::string> GetBoundedString(const Json& obj, const std::string& key, bool required,
                                     size_t max_bytes, bool multiline, const std::string& prefix) {
  std::string field = prefix + key;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return InvalidArgument(field, field + " is required");
    return std::string();
  }
  if (!it->is_string()) return InvalidArgument(field, field + " must be a string");
  const auto& value = it->get_ref<const std::string&>();
  KAAS_RETURN_IF_ERROR(CheckText(field, value, max_bytes, multiline));
  return value;
}

}  // namespace

Result<std::string> GetString(const Json& obj, const std::string& key, bool required,
                              const std::string& prefix) {
  return GetBoundedString(obj, key, required, kMaxTextBytes, false, prefix);
}

Result<std::string> GetString(const Json& obj, const std::string& key, bool required,
                              size_t max_bytes, const std::string& prefix) {
  return GetBoundedString(obj, key, required, max_bytes, false, prefix);
}

Result<std::string> GetText(const Json& obj, const std::string& key, bool required) {
  return GetBoundedString(obj, key, required, kMaxTextBytes, true, "");
}

Result<int64_t> GetInt(const Json& obj, const std::string& key, bool required, int64_t def,
                       const std::string& prefix) {
  std::string field = prefix + key;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return InvalidArgument(field, field + " is required");
    return def;
  }
  if (!it->is_number_integer()) return InvalidArgument(field, field + " must be an integer");
  return it->get<int64_t>();
}

HttpMetrics::HttpMetrics(metrics::Registry& registry)
    : requests_(registry.Counter("kaas_http_requests_total",
                                 "HTTP requests by method, route pattern and status.",
                                 {"method", "route", "status"})),
      duration_(registry.Histogram("kaas_http_request_duration_seconds",
                                   "Time to answer an HTTP request, by method and route pattern "
                                   "(event streams: until the stream was handed off).",
                                   {"method", "route"}, metrics::RequestBuckets())) {}

void HttpMetrics::Record(const std::string& method, const std::string& route, int status,
                         double secs) {
  requests_.Inc({method, route, std::to_string(status)});
  duration_.Observe({method, route}, secs);
}

}  // namespace kaas::api
