#include "kaas/auth/directory.h"

#include <ldap.h>

#include <cctype>
#include <cstdio>

#include "kaas/auth/teams.h"
#include "kaas/common/names.h"

namespace kaas::auth {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int RoleStrength(const std::string& role) {
  if (role == "admin") return 3;
  if (role == "member") return 2;
  if (role == "viewer") return 1;
  return 0;
}

}  // namespace

std::string NormalizeDn(const std::string& dn) {
  char* out = nullptr;
  if (ldap_dn_normalize(dn.c_str(), LDAP_DN_FORMAT_LDAP, &out, LDAP_DN_FORMAT_LDAPV3) !=
          LDAP_SUCCESS ||
      out == nullptr) {
    return Lower(dn);
  }
  std::string normalized = Lower(out);
  ldap_memfree(out);
  return normalized;
}

Result<GroupMapping> MakeGroupMapping(const std::string& group, const std::string& team,
                                      const std::string& role) {
  const std::string field = "ldap_group_map";
  char* out = nullptr;
  if (group.empty() || ldap_dn_normalize(group.c_str(), LDAP_DN_FORMAT_LDAP, &out,
                                         LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
    return InvalidArgument(field, "ldap_group_map: '" + group + "' is not a DN");
  }
  ldap_memfree(out);
  if (!CheckDnsLabel(field, team, kTeamNameMaxLength).ok()) {
    return InvalidArgument(field, "ldap_group_map: team '" + team + "' of " + group +
                                      " is not a team name (a DNS label)");
  }
  if (!IsRole(role)) {
    return InvalidArgument(field, "ldap_group_map: role '" + role + "' of " + group +
                                      " must be admin, member or viewer");
  }
  return GroupMapping{NormalizeDn(group), team, role};
}

std::map<std::string, std::string> TeamRolesFromGroups(const std::vector<GroupMapping>& map,
                                                       const std::vector<std::string>& groups) {
  std::map<std::string, std::string> roles;
  for (const auto& m : map) {
    bool member = false;
    for (const auto& g : groups) member = member || g == m.group;
    if (!member) continue;
    std::string& role = roles[m.team];
    if (RoleStrength(m.role) > RoleStrength(role)) role = m.role;
  }
  return roles;
}

std::string EscapeDnValue(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                   c == ';' || c == '=' || (i == 0 && (c == ' ' || c == '#')) ||
                   (i + 1 == value.size() && c == ' ');
    if (c == '\0') {
      out += "\\00";
    } else {
      if (special) out += '\\';
      out += c;
    }
  }
  return out;
}

std::string EscapeFilterValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "\\%02x", static_cast<unsigned char>(c));
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace kaas::auth
