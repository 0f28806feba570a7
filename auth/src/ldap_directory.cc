#include "kaas/auth/ldap_directory.h"

#include <ldap.h>
#include <sys/time.h>

#include "kaas/common/log.h"

namespace kaas::auth {
namespace {

const Status kBadCredentials(Code::kUnauthenticated, "invalid username or password");

std::string Replace(std::string text, const std::string& placeholder, const std::string& value) {
  for (size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size())) {
    text.replace(at, placeholder.size(), value);
  }
  return text;
}

Status DirectoryDown(const std::string& what, int rc) {
  return Unavailable("the company directory (LDAP) is unavailable: " + what + ": " +
                     ldap_err2string(rc));
}

// Answers of a user's bind that are a verdict on the user or the password, not a failure to
// ask: no such entry, wrong password, a DN that cannot exist.
bool IsCredentialVerdict(int rc) {
  return rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH ||
         rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_NO_SUCH_OBJECT ||
         rc == LDAP_UNWILLING_TO_PERFORM;
}

// One connection, unbound (and closed) when it goes out of scope.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
  }

  // Sets up the handle and, for StartTLS, connects and upgrades; ldap:// and ldaps:// connect
  // at the first operation.
  Status Open(const LdapOptions& o) {
    int rc = ldap_initialize(&ld_, o.url.c_str());
    if (rc != LDAP_SUCCESS) return DirectoryDown("bad URL " + o.url, rc);
    int version = LDAP_VERSION3;
    timeval timeout = Timeout(o);
    int demand = LDAP_OPT_X_TLS_DEMAND;
    int new_ctx = 0;
    bool set = ldap_set_option(ld_, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
               ldap_set_option(ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
               ldap_set_option(ld_, LDAP_OPT_NETWORK_TIMEOUT, &timeout) == LDAP_OPT_SUCCESS &&
               ldap_set_option(ld_, LDAP_OPT_TIMEOUT, &timeout) == LDAP_OPT_SUCCESS &&
               ldap_set_option(ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS;
    if (set && !o.ca_file.empty()) {
      set = ldap_set_option(ld_, LDAP_OPT_X_TLS_CACERTFILE, o.ca_file.c_str()) == LDAP_OPT_SUCCESS;
    }
    // The TLS settings above take effect in a context of this connection's own.
    if (set) set = ldap_set_option(ld_, LDAP_OPT_X_TLS_NEWCTX, &new_ctx) == LDAP_OPT_SUCCESS;
    if (!set) return Unavailable("the company directory (LDAP): cannot set up the TLS options");
    if (o.starttls) {
      rc = ldap_start_tls_s(ld_, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) return DirectoryDown("StartTLS with " + o.url + " failed", rc);
    }
    return Status::Ok();
  }

  int Bind(const std::string& dn, const std::string& password) {
    berval cred{password.size(), const_cast<char*>(password.data())};
    return ldap_sasl_bind_s(ld_, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  }

  // The DNs of the entries under `base` that `filter` matches (at most `limit`, 0 = the
  // server's limit); *rc is LDAP_SIZELIMIT_EXCEEDED when there were more.
  std::vector<std::string> Search(const LdapOptions& o, const std::string& base,
                                  const std::string& filter, int limit, int* rc) {
    std::vector<std::string> dns;
    LDAPMessage* res = nullptr;
    char no_attrs[] = LDAP_NO_ATTRS;
    char* attrs[] = {no_attrs, nullptr};
    timeval timeout = Timeout(o);
    *rc = ldap_search_ext_s(ld_, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0,
                            nullptr, nullptr, &timeout, limit, &res);
    if (*rc == LDAP_SUCCESS || *rc == LDAP_SIZELIMIT_EXCEEDED) {
      for (LDAPMessage* e = ldap_first_entry(ld_, res); e != nullptr; e = ldap_next_entry(ld_, e)) {
        char* dn = ldap_get_dn(ld_, e);
        if (dn == nullptr) continue;
        dns.emplace_back(dn);
        ldap_memfree(dn);
      }
    }
    if (res != nullptr) ldap_msgfree(res);
    return dns;
  }

 private:
  static timeval Timeout(const LdapOptions& o) {
    return {o.timeout_ms / 1000, static_cast<suseconds_t>((o.timeout_ms % 1000) * 1000)};
  }

  LDAP* ld_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<LdapDirectory>> LdapDirectory::Create(LdapOptions o) {
  bool ldaps = o.url.rfind("ldaps://", 0) == 0;
  if (o.url.rfind("ldap://", 0) != 0 && !ldaps) {
    return InvalidArgument("ldap_url", "ldap_url must start with ldap:// or ldaps://");
  }
  LDAPURLDesc* desc = nullptr;
  if (ldap_url_parse(o.url.c_str(), &desc) != LDAP_URL_SUCCESS) {
    return InvalidArgument("ldap_url", "ldap_url " + o.url + " does not parse");
  }
  ldap_free_urldesc(desc);
  if (ldaps && o.starttls) {
    return InvalidArgument("ldap_starttls", "StartTLS is for ldap:// (ldaps:// is TLS already)");
  }
  if (o.user_dn_template.empty() == o.user_search_base.empty()) {
    return InvalidArgument("ldap_user_dn_template",
                           "give either ldap_user_dn_template or ldap_user_search_base");
  }
  if (!o.user_dn_template.empty() && o.user_dn_template.find("{username}") == std::string::npos) {
    return InvalidArgument("ldap_user_dn_template", "ldap_user_dn_template needs {username}");
  }
  if (!o.user_search_base.empty() && o.user_search_filter.find("{username}") == std::string::npos) {
    return InvalidArgument("ldap_user_search_filter", "ldap_user_search_filter needs {username}");
  }
  if (!o.group_search_base.empty() && o.group_search_filter.find("{dn}") == std::string::npos &&
      o.group_search_filter.find("{username}") == std::string::npos) {
    return InvalidArgument("ldap_group_search_filter",
                           "ldap_group_search_filter needs {dn} or {username}");
  }
  if (!o.bind_dn.empty() && o.bind_password.empty()) {
    return InvalidArgument("ldap_bind_password_file",
                           "ldap_bind_dn needs a password (ldap_bind_password_file)");
  }
  if (o.timeout_ms <= 0) return InvalidArgument("ldap_timeout_seconds", "must be at least 1");
  return std::unique_ptr<LdapDirectory>(new LdapDirectory(std::move(o)));
}

Result<DirectoryUser> LdapDirectory::Authenticate(const std::string& username,
                                                  const std::string& password) {
  if (username.empty() || password.empty()) return kBadCredentials;
  const LdapOptions& o = options_;
  Connection conn;
  KAAS_RETURN_IF_ERROR(conn.Open(o));
  auto bind_service = [&]() -> Status {
    int rc = conn.Bind(o.bind_dn, o.bind_password);
    if (rc == LDAP_SUCCESS) return Status::Ok();
    log::Error("the directory refused kaas's service account",
               {{"bind_dn", o.bind_dn}, {"error", ldap_err2string(rc)}});
    return DirectoryDown("binding as " + o.bind_dn, rc);
  };

  DirectoryUser user;
  if (!o.user_dn_template.empty()) {
    user.dn = Replace(o.user_dn_template, "{username}", EscapeDnValue(username));
  } else {
    if (!o.bind_dn.empty()) KAAS_RETURN_IF_ERROR(bind_service());
    int rc = LDAP_SUCCESS;
    auto found = conn.Search(
        o, o.user_search_base,
        Replace(o.user_search_filter, "{username}", EscapeFilterValue(username)), 2, &rc);
    if (rc == LDAP_NO_SUCH_OBJECT) {
      log::Error("the directory has no ldap_user_search_base: nobody can log in with it",
                 {{"base", o.user_search_base}});
      return kBadCredentials;
    }
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
      return DirectoryDown("searching for the user", rc);
    }
    if (found.size() != 1) {
      if (!found.empty()) {
        log::Warn("several directory entries match one username; nobody logs in with it",
                  {{"username", username}});
      }
      // A bind that cannot succeed, so that an unknown user costs the directory round trip a
      // wrong password does.
      (void)conn.Bind("cn=kaas-no-such-user," + o.user_search_base, password);
      return kBadCredentials;
    }
    user.dn = found.front();
  }

  int rc = conn.Bind(user.dn, password);
  if (IsCredentialVerdict(rc)) return kBadCredentials;
  if (rc != LDAP_SUCCESS) return DirectoryDown("checking the password", rc);

  if (o.group_search_base.empty()) return user;
  if (!o.bind_dn.empty()) KAAS_RETURN_IF_ERROR(bind_service());
  std::string filter = Replace(o.group_search_filter, "{dn}", EscapeFilterValue(user.dn));
  filter = Replace(filter, "{username}", EscapeFilterValue(username));
  rc = LDAP_SUCCESS;
  auto groups = conn.Search(o, o.group_search_base, filter, 0, &rc);
  // A group base that does not exist holds no groups; any other failure leaves the roles
  // unknown, and a login with unknown roles must not go through.
  if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
    return DirectoryDown("searching for the user's groups", rc);
  }
  for (const auto& g : groups) user.groups.push_back(NormalizeDn(g));
  return user;
}

}  // namespace kaas::auth
