#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kaas/store/database.h"

namespace kaas::store {
namespace {

// libpq parameters kaasd sets unless the URL does: a connection attempt gives up after 5 s
// (per host), and a connection whose peer vanished without a FIN is noticed by TCP keepalives
// when idle and by tcp_user_timeout when data stays unacknowledged.
constexpr std::pair<const char*, const char*> kDefaultPostgresParams[] = {
    {"connect_timeout", "5"},      {"keepalives", "1"},       {"keepalives_idle", "10"},
    {"keepalives_interval", "5"},  {"keepalives_count", "3"}, {"tcp_user_timeout", "20000"},
    {"application_name", "kaasd"},
};

// "%41" -> "A" in a URL component.
std::string PercentDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// "host", "host:port", "[v6 address]:port" -> {host, port}.
std::pair<std::string_view, std::string_view> SplitHostPort(std::string_view in) {
  if (size_t close = in.find(']'); !in.empty() && in[0] == '[' && close != in.npos) {
    std::string_view port;
    if (close + 1 < in.size() && in[close + 1] == ':') port = in.substr(close + 2);
    return {in.substr(1, close - 1), port};
  }
  if (size_t colon = in.rfind(':'); colon != std::string_view::npos) {
    return {in.substr(0, colon), in.substr(colon + 1)};
  }
  return {in, {}};
}

}  // namespace

// libpq understands postgresql:// URIs, but SOCI 4.0's PostgreSQL backend re-splits its connect
// string into space-separated key=value pairs (looking for options of its own) and so mangles a
// URI ("postgresql://h/kaas" reaches libpq as ".../kaas="). So the URL
// postgresql://[user[:password]@][host[:port][,host[:port]...]][/dbname][?key=value&...] is
// handed to SOCI as libpq keyword=value pairs (several hosts become libpq's host=a,b port=p,q;
// with target_session_attrs=read-write libpq connects to whichever is the primary). Values
// that would need quoting are refused: SOCI's splitting does not know about quotes.
Result<std::string> PostgresConnectString(const std::string& url) {
  std::string_view rest = url;
  rest.remove_prefix(rest.find("://") + 3);
  std::vector<std::pair<std::string, std::string>> params;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view kv = query.substr(0, amp);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return InvalidArgument("database",
                               "database URL: parameter without a value: " + std::string(kv));
      }
      params.emplace_back(PercentDecode(kv.substr(0, eq)), PercentDecode(kv.substr(eq + 1)));
      query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    }
  }
  std::string_view dbname;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    dbname = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    out.emplace_back("user", PercentDecode(userinfo.substr(0, colon)));
    if (colon != std::string_view::npos) {
      out.emplace_back("password", PercentDecode(userinfo.substr(colon + 1)));
    }
  }
  std::string hosts, ports;
  bool any_port = false;
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (size_t start = 0; !rest.empty();) {
    size_t comma = rest.find(',', start);
    entries.push_back(SplitHostPort(rest.substr(start, comma - start)));
    any_port = any_port || !entries.back().second.empty();
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  for (const auto& [host, port] : entries) {
    if (host.empty()) {
      return InvalidArgument("database", "database URL: an empty host in the host list");
    }
    if (!hosts.empty()) hosts += ',', ports += ',';
    hosts += PercentDecode(host);
    ports += port.empty() ? "5432" : std::string(port);
  }
  if (!hosts.empty()) out.emplace_back("host", hosts);
  if (any_port) out.emplace_back("port", ports);
  if (!dbname.empty()) out.emplace_back("dbname", PercentDecode(dbname));
  out.insert(out.end(), params.begin(), params.end());
  for (const auto& [key, value] : kDefaultPostgresParams) {
    bool given =
        std::any_of(out.begin(), out.end(), [&](const auto& kv) { return kv.first == key; });
    if (!given) out.emplace_back(key, value);
  }
  std::string conninfo;
  for (const auto& [key, value] : out) {
    if (value.empty() || value.find_first_of(" \t\n'\\") != std::string::npos) {
      return InvalidArgument("database", "database URL: " + key +
                                             " must be non-empty, without spaces, quotes or "
                                             "backslashes");
    }
    if (!conninfo.empty()) conninfo += ' ';
    conninfo += key + "=" + value;
  }
  return conninfo;
}

}  // namespace kaas::store
