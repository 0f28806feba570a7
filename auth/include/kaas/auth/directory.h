#pragma once

#include <map>
#include <string>
#include <vector>

#include "kaas/common/status.h"

namespace kaas::auth {

// A user the company directory vouched for.
struct DirectoryUser {
  std::string dn;
  std::vector<std::string> groups;  // DNs of the user's groups, as NormalizeDn spells them
};

// The company directory (LDAP, DESIGN.md §6.5): checks passwords and says which groups a user
// is in. Implementations may be called from several request threads at once.
class Directory {
 public:
  virtual ~Directory() = default;

  // Checks `password` for `username`. kUnauthenticated when the directory has no such user or
  // the password is wrong (the same answer for both, and for an empty password: an LDAP bind
  // without one would be anonymous); kUnavailable when the directory could not give a verdict
  // (down, timeout, TLS failure, the service account refused), never because of the password.
  virtual Result<DirectoryUser> Authenticate(const std::string& username,
                                             const std::string& password) = 0;
};

// Members of `group` (a DN) get `role` in `team`.
struct GroupMapping {
  std::string group;  // NormalizeDn'd
  std::string team;
  std::string role;
};

// Checks one mapping: a DN that parses, a team name kaas accepts (a DNS label), a role IsRole
// accepts. kInvalidArgument on field "ldap_group_map".
Result<GroupMapping> MakeGroupMapping(const std::string& group, const std::string& team,
                                      const std::string& role);

// A DN spelled one way for comparisons: RFC 4514 form, lower case ("CN=Ops, dc=Example" and
// "cn=ops,dc=example" are the same group). A DN that does not parse is only lower-cased.
std::string NormalizeDn(const std::string& dn);

// The team roles `groups` give under `map`: team name -> the strongest role any of the groups
// maps to (admin > member > viewer). Teams none of the groups maps to are absent.
std::map<std::string, std::string> TeamRolesFromGroups(const std::vector<GroupMapping>& map,
                                                       const std::vector<std::string>& groups);

// RFC 4514 escaping of an attribute value inside a DN, RFC 4515 escaping of a value inside a
// search filter.
std::string EscapeDnValue(const std::string& value);
std::string EscapeFilterValue(const std::string& value);

}  // namespace kaas::auth
