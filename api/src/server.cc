#include "kaas/api/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "http.h"
#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/common/text.h"
#include "request_pool.h"

namespace kaas::api {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// Matches `path` against a pattern with {name} segments.
bool Match(const std::string& pattern, const std::vector<std::string>& segments,
           std::map<std::string, std::string>& params) {
  auto parts = Split(pattern);
  if (parts.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& p = parts[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (segments[i].empty()) return false;
      found[p.substr(1, p.size() - 2)] = segments[i];
    } else if (p != segments[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

// JSON for the wire: a string that is not valid UTF-8 (e.g. stored before kaas refused such
// input) is sent with U+FFFD in its place rather than failing the whole answer.
std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool IsApiPath(const std::string& path) { return path.rfind("/api/", 0) == 0; }

// The media type of a Content-Type header, lowercase, without parameters.
std::string MediaType(const std::string& header) {
  std::string type = header.substr(0, header.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  size_t start = type.find_first_not_of(" \t");
  type = start == std::string::npos ? "" : type.substr(start);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

void WriteCodedError(httplib::Response& res, int status, const char* code,
                     const std::string& message) {
  res.status = status;
  res.set_content(
      Dump(Json{{"error", {{"code", code}, {"message", message}, {"details", Json::object()}}}}),
      "application/json");
}

// Path parameters, query parameters and Last-Event-ID are bounded and valid UTF-8 before any
// handler sees them (usernames 64 bytes, other path parameters 63, query values 1,000).
Status CheckRequestStrings(const httplib::Request& req,
                           const std::map<std::string, std::string>& params) {
  for (const auto& [name, value] : params) {
    KAAS_RETURN_IF_ERROR(
        CheckText(name, value, name == "username" ? kMaxUsernameBytes : kMaxNameBytes));
  }
  for (const auto& [key, value] : req.params) {
    KAAS_RETURN_IF_ERROR(CheckText("query parameter", key, kMaxNameBytes));
    KAAS_RETURN_IF_ERROR(CheckText(key, value, kMaxTextBytes));
  }
  return CheckText("Last-Event-ID", req.get_header_value("Last-Event-ID"), kMaxNameBytes);
}

void WriteError(httplib::Response& res, const Status& st) {
  res.status = HttpStatus(st.code());
  if (st.code() == Code::kUnauthenticated) res.set_header("WWW-Authenticate", "Bearer");
  if (int64_t after = RetryAfterSeconds(st); after > 0) {
    res.set_header("Retry-After", std::to_string(after));
  }
  res.set_content(Dump(ErrorBody(st)), "application/json");
}

// Content types of the files the portal ships; anything else is served as bytes.
const char* ContentType(const std::filesystem::path& file) {
  static const std::map<std::string, const char*> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  };
  auto it = kTypes.find(file.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool ReadFile(const std::filesystem::path& file, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

// Open event streams, per user and in all (DESIGN.md §6.1: 8 per user, and a global cap).
class StreamSlots {
 public:
  StreamSlots(size_t per_user, size_t total) : per_user_(per_user), total_(total) {}

  // A slot held as long as the returned handle lives; kRateLimited when the user or the
  // server has no slot left.
  Result<std::shared_ptr<void>> Acquire(const std::string& user_id) {
    std::lock_guard lock(mu_);
    if (open_ >= total_) {
      return std::move(
          Status(Code::kRateLimited, "the server has too many open event streams; try later")
              .WithRetryAfter(5));
    }
    size_t& mine = by_user_[user_id];
    if (mine >= per_user_) {
      return std::move(
          Status(Code::kRateLimited, "at most " + std::to_string(per_user_) +
                                         " event streams may be open per user; close one first")
              .WithRetryAfter(5));
    }
    ++mine;
    ++open_;
    return std::shared_ptr<void>(nullptr, [this, user_id](void*) { Release(user_id); });
  }

 private:
  void Release(const std::string& user_id) {
    std::lock_guard lock(mu_);
    --open_;
    if (--by_user_[user_id] == 0) by_user_.erase(user_id);
  }

  const size_t per_user_, total_;
  std::mutex mu_;
  std::map<std::string, size_t> by_user_;
  size_t open_ = 0;
};

// What the request line in the log says beyond the request itself.
struct RequestLog {
  std::string request_id;
  std::string route = "unmatched";  // the route pattern, "static" or "unmatched": never a path
  std::string user;
  std::string object;     // the audited object (a cluster id, a team, ...)
  std::string operation;  // the operation a 202 answer started
  std::string cluster;    // and its cluster
};

constexpr double kSlowRequestSeconds = 1.0;

}  // namespace

std::string RequestIdOf(const std::string& header, bool from_trusted_proxy) {
  // A trusted proxy's id is kept when it is a short token that cannot forge log fields or
  // headers (so one id follows the request through the proxy's logs and ours); anyone else's
  // gets an id of ours: a client must not choose what our log lines are found by.
  if (from_trusted_proxy && !header.empty() && header.size() <= 64 &&
      std::all_of(header.begin(), header.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
      })) {
    return header;
  }
  return NewId("req");
}

struct ApiServer::Impl {
  Impl(ApiDeps d, ApiOptions o) : deps(d), options(o), server(MakeServer(options)) {}

  // HTTPS only when a certificate is given (OpenSSL through cpp-httplib's SSLServer).
  static std::unique_ptr<httplib::Server> MakeServer(const ApiOptions& o) {
    if (o.tls_cert.empty()) return std::make_unique<httplib::Server>();
    return std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
  }

  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    auto start = std::chrono::steady_clock::now();
    RequestLog info;
    info.request_id = RequestIdOf(req.get_header_value("X-Request-Id"),
                                  options.trusted_proxies.Contains(req.remote_addr));
    res.set_header("X-Request-Id", info.request_id);
    Handle(req, res, info);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    http_metrics.Record(req.method, info.route, res.status, secs);
    // Mutations, server errors and slow requests get a line; the many fast reads are counted
    // in /metrics only.
    if (req.method != "GET" || res.status >= 500 || secs >= kSlowRequestSeconds) {
      const std::string status = std::to_string(res.status);
      const std::string ms = std::to_string(static_cast<int64_t>(secs * 1000));
      log::Info("request", {{"request_id", info.request_id},
                            {"method", req.method},
                            {"route", info.route},
                            {"status", status},
                            {"duration_ms", ms},
                            {"user", info.user},
                            {"object", info.object},
                            {"operation", info.operation},
                            {"cluster", info.cluster}});
    }
  }

  void Handle(const httplib::Request& req, httplib::Response& res, RequestLog& info) {
    // Tokens, kubeconfigs and everything else the API answers stay out of every cache.
    if (IsApiPath(req.path)) res.set_header("Cache-Control", "no-store");
    auto segments = Split(req.path);
    const Route* route = nullptr;
    bool path_known = false;
    std::map<std::string, std::string> params;
    for (const auto& r : RouteTable()) {
      std::map<std::string, std::string> p;
      if (!Match(r.info.pattern, segments, p)) continue;
      path_known = true;
      if (r.info.method == req.method) {
        route = &r;
        params = std::move(p);
        break;
      }
    }
    if (!route) {
      if (!path_known && ServeStatic(req, res)) {
        info.route = "static";
        return;
      }
      if (path_known) {
        return WriteCodedError(res, 405, "method_not_allowed",
                               req.method + " is not allowed on " + Sanitized(req.path, 200));
      }
      WriteError(res, NotFound("no route for " + req.method + " " + Sanitized(req.path, 200)));
      return;
    }
    info.route = route->info.pattern;
    // Only JSON bodies: a cross-site form or no-cors fetch (text/plain, form encodings) is
    // refused before anything runs.
    if (!req.body.empty() &&
        MediaType(req.get_header_value("Content-Type")) != "application/json") {
      return WriteCodedError(res, 415, "unsupported_media_type",
                             "a request body must be sent as Content-Type: application/json");
    }
    Context ctx{deps,
                req.method,
                req.path,
                std::move(params),
                {},
                req.body,
                options.trusted_proxies.ClientAddress(req.remote_addr,
                                                      req.get_header_value("X-Forwarded-For"))};
    ctx.request_id = info.request_id;
    Status strings = CheckRequestStrings(req, ctx.params);
    if (!strings.ok()) ctx.params.clear();  // never audited
    ctx.last_event_id = req.get_header_value("Last-Event-ID");
    ctx.authorization = req.get_header_value("Authorization");
    ctx.stopping = &stopping;
    for (const auto& [k, v] : req.params) ctx.query.emplace(k, v);
    Result<Reply> reply = strings.ok() ? Run(*route, req, ctx) : Result<Reply>(strings);
    std::shared_ptr<void> stream_slot;
    if (reply.ok() && reply->stream) {
      auto slot = streams.Acquire(ctx.principal.user_id);
      if (slot.ok()) {
        stream_slot = std::move(slot).value();
      } else {
        reply = slot.status();
      }
    }
    if (req.method != "GET" || route->info.audit_get) Audit(ctx, route->info, reply);
    info.user = ctx.audit_actor.empty() ? ctx.principal.username : ctx.audit_actor;
    info.object = ctx.audit_object;
    if (reply.ok() && reply->body.is_object()) {
      auto op = reply->body.find("operation");
      if (op != reply->body.end() && op->is_object() && op->contains("id") &&
          (*op)["id"].is_string()) {
        info.operation = (*op)["id"].get<std::string>();
        info.cluster = op->value("cluster_id", "");
      }
    }
    if (!reply.ok()) return WriteError(res, reply.status());
    res.status = reply->status;
    if (reply->status == 204) return;
    if (reply->stream) {
      // The stream runs on this connection's thread, which leaves the request pool first: a
      // replacement serves other requests meanwhile (request_pool.h).
      res.set_chunked_content_provider(
          reply->content_type.c_str(),
          [this, stream = reply->stream, stream_slot](size_t, httplib::DataSink& sink) {
            if (RequestPool* p = pool.load()) p->DetachCurrentWorker();
            stream(
                [&](const std::string& chunk) { return sink.write(chunk.data(), chunk.size()); });
            sink.done();
            return true;
          });
      return;
    }
    if (!reply->raw.empty()) {
      res.set_content(reply->raw, reply->content_type.c_str());
    } else {
      res.set_content(Dump(reply->body), "application/json");
    }
  }

  // The portal: GET of a path no API route matched, outside /api/. An existing file under
  // web_dir is sent as is; any other path without a file extension gets index.html, so that
  // the portal's own routes (/clusters/cl-1) survive a reload. A missing file with an
  // extension stays a 404, so a broken asset link shows as one instead of as HTML. False
  // when this is not a portal request (the caller answers with the API's JSON 404).
  bool ServeStatic(const httplib::Request& req, httplib::Response& res) {
    namespace fs = std::filesystem;
    if (options.web_dir.empty() || (req.method != "GET" && req.method != "HEAD")) return false;
    const std::string& path = req.path;
    if (path.empty() || path[0] != '/' || path == "/api" || path.rfind("/api/", 0) == 0) {
      return false;
    }
    // req.path is already percent-decoded: refuse any ".." or "." segment, backslash or NUL
    // rather than normalising it, so that nothing outside web_dir can be named.
    std::string rel = path.substr(1);
    if (rel.find('\\') != std::string::npos || rel.find('\0') != std::string::npos) return false;
    for (const auto& segment : Split(path)) {
      if (segment == ".." || segment == ".") return false;
    }
    std::error_code ec;
    fs::path root = fs::weakly_canonical(options.web_dir, ec);
    if (ec) return false;
    fs::path file = rel.empty() ? root / "index.html" : root / rel;
    // Symlinks inside web_dir must not lead out of it either.
    fs::path resolved = fs::weakly_canonical(file, ec);
    auto [end, unused] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
    if (ec || end != root.end()) return false;
    bool is_file = fs::is_regular_file(resolved, ec);
    if (!is_file) {
      if (fs::path(rel).has_extension()) return false;
      resolved = root / "index.html";
    }
    std::string body;
    if (!ReadFile(resolved, body)) return false;
    res.status = 200;
    // No build step means no content-hashed file names: the browser revalidates every time.
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    // Every asset comes from kaasd itself; the policy makes sure nothing else is loaded.
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                   "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    res.set_content(std::move(body), ContentType(resolved));
    return true;
  }

  // Authenticates, applies the route's coarse access rule, and runs the handler.
  Result<Reply> Run(const Route& route, const httplib::Request& req, Context& ctx) {
    if (route.info.access != Access::kAnyone) {
      auto principal = deps.auth.Authenticate(req.get_header_value("Authorization"));
      if (!principal.ok()) return principal.status();
      ctx.principal = std::move(principal).value();
      // The audit (under the token's team) and the request log say which token acted.
      if (ctx.principal.IsDeployer()) {
        ctx.audit_actor = ctx.principal.username + " (deploy token " + ctx.principal.token_id + ")";
        ctx.audit_team_id = ctx.principal.memberships.front().team_id;
      }
      if (route.info.access == Access::kPlatformAdmin && !ctx.principal.is_admin) {
        return Status(Code::kPermissionDenied, "this needs a platform administrator");
      }
      if (ctx.principal.IsDeployer() && !route.info.deploy_token) {
        return Status(Code::kPermissionDenied,
                      "a deploy token may only list its deploy targets and fetch their "
                      "kubeconfigs");
      }
    }
    try {
      return route.handler(ctx);
    } catch (const std::exception& e) {
      log::Error(
          "handler failed",
          {{"request_id", ctx.request_id}, {"route", route.info.pattern}, {"error", e.what()}});
      return Internal("internal error");
    }
  }

  // Every mutating request and every login, successful or not, with who, what, which object,
  // when, from where and the result. Never the body: passwords and tokens stay out.
  void Audit(const Context& ctx, const RouteInfo& route, const Result<Reply>& reply) {
    store::AuditEntry e;
    e.id = NewId("au");
    e.at = deps.clock.NowMs();
    e.actor = ctx.audit_actor.empty() ? ctx.principal.username : ctx.audit_actor;
    e.team_id = ctx.audit_team_id;
    e.action = route.method + " " + route.pattern;
    e.object = ctx.audit_object;
    e.remote_addr = ctx.remote_addr;
    e.status = reply.ok() ? reply->status : HttpStatus(reply.status().code());
    e.result = reply.ok() ? "ok" : CodeName(reply.status().code());
    Status st = deps.audit.Record(e);
    if (!st.ok()) {
      log::Error("audit entry not written",
                 {{"request_id", ctx.request_id}, {"error", st.ToString()}});
    }
  }

  ApiDeps deps;
  ApiOptions options;
  HttpMetrics http_metrics{deps.metrics};
  StreamSlots streams{options.max_event_streams_per_user, options.max_event_streams};
  std::atomic<RequestPool*> pool{nullptr};
  std::unique_ptr<httplib::Server> server;
  std::atomic<bool> stopping{false};
  int port = 0;
  int listen_fd = -1;
};

ApiServer::ApiServer(ApiDeps deps, ApiOptions options)
    : impl_(std::make_unique<Impl>(deps, options)) {
  auto& s = *impl_->server;
  size_t threads = options.http_threads;
  s.new_task_queue = [this, threads] {
    auto* p = new RequestPool(threads);
    impl_->pool = p;
    return p;
  };
  s.set_payload_max_length(options.max_body_bytes);
  // Without TCP_NODELAY small keep-alive responses wait ~40 ms for delayed ACKs.
  s.set_tcp_nodelay(true);
  // Remember the listening socket: Debian's cpp-httplib listens with a backlog of 5, which
  // drops connections under a burst of clients; Bind() raises it.
  s.set_socket_options([this](int sock) {
    httplib::default_socket_options(sock);
    impl_->listen_fd = sock;
  });
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    impl_->Dispatch(req, res);
  };
  s.Get(".*", dispatch);
  s.Post(".*", dispatch);
  s.Put(".*", dispatch);
  s.Delete(".*", dispatch);
  s.Patch(".*", dispatch);
  // Errors httplib produces itself (oversized or unreadable bodies) get the JSON error shape.
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (IsApiPath(req.path) && !res.has_header("Cache-Control")) {
      res.set_header("Cache-Control", "no-store");
    }
    if (!res.has_header("X-Request-Id")) {
      res.set_header("X-Request-Id",
                     RequestIdOf(req.get_header_value("X-Request-Id"),
                                 impl_->options.trusted_proxies.Contains(req.remote_addr)));
    }
    if (!res.body.empty()) return;
    Code code = res.status == 413   ? Code::kPayloadTooLarge
                : res.status == 404 ? Code::kNotFound
                : res.status >= 500 ? Code::kInternal
                                    : Code::kInvalidArgument;
    std::string msg = res.status == 413 ? "request body is larger than the 1 MiB limit"
                                        : "request could not be processed";
    res.set_content(Dump(ErrorBody(Status(code, msg))), "application/json");
  });
}

ApiServer::~ApiServer() { Stop(); }

bool ApiServer::Bind(const std::string& host, int port) {
  if (!impl_->server->is_valid()) return false;  // the certificate or key did not load
  if (port == 0) {
    impl_->port = impl_->server->bind_to_any_port(host);
    if (impl_->port <= 0) return false;
  } else {
    if (!impl_->server->bind_to_port(host, port)) return false;
    impl_->port = port;
  }
  // Calling listen() again on a listening socket only changes its backlog (Linux).
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
  return true;
}

int ApiServer::port() const { return impl_->port; }

void ApiServer::Serve() {
  impl_->server->listen_after_bind();
  impl_->pool = nullptr;  // httplib has shut it down and deleted it
}

void ApiServer::Stop() {
  impl_->stopping = true;  // event streams end, so the worker threads can be joined
  impl_->server->stop();
}

std::vector<RouteInfo> ApiServer::Routes() {
  std::vector<RouteInfo> out;
  for (const auto& r : RouteTable()) out.push_back(r.info);
  return out;
}

}  // namespace kaas::api
