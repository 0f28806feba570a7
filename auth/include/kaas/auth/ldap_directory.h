#pragma once

#include <memory>
#include <string>

#include "kaas/auth/directory.h"
#include "kaas/common/status.h"

namespace kaas::auth {

struct LdapOptions {
  std::string url;        // ldap://HOST[:PORT] or ldaps://HOST[:PORT]
  bool starttls = false;  // upgrade ldap:// with StartTLS; a failed upgrade is kUnavailable
  std::string ca_file;    // PEM CAs the server's certificate is checked against ("" = system's)
  // Service account for the searches. Without one the user search is anonymous and the group
  // search runs as the user who logs in.
  std::string bind_dn;
  std::string bind_password;
  // Either a template ("uid={username},ou=people,dc=example,dc=org") or a search under
  // user_search_base with user_search_filter ("(uid={username})"): exactly one entry must match.
  std::string user_dn_template;
  std::string user_search_base;
  std::string user_search_filter = "(uid={username})";
  // Groups under group_search_base matching group_search_filter ({dn}: the user's DN,
  // {username}) are the user's groups. "" base = no groups, so no team roles.
  std::string group_search_base;
  std::string group_search_filter = "(|(member={dn})(uniqueMember={dn}))";
  int timeout_ms = 5000;  // connecting, and each LDAP operation
};

// The company directory over LDAP, with Debian's OpenLDAP client library: one connection per
// login (bind as the user, then the group search), nothing kept between logins.
class LdapDirectory : public Directory {
 public:
  // kInvalidArgument (field named after the kaasd setting, e.g. "ldap_url") for options that
  // cannot work: another URL scheme, StartTLS on ldaps://, neither or both of a template and a
  // search base, a template or filter without {username}, a bind DN without a password.
  static Result<std::unique_ptr<LdapDirectory>> Create(LdapOptions options);

  Result<DirectoryUser> Authenticate(const std::string& username,
                                     const std::string& password) override;

 private:
  explicit LdapDirectory(LdapOptions options) : options_(std::move(options)) {}

  LdapOptions options_;
};

}  // namespace kaas::auth
