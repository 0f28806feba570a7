#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kaas/auth/directory.h"
#include "kaas/auth/rate_limiter.h"
#include "kaas/common/clock.h"
#include "kaas/common/labels.h"
#include "kaas/common/status.h"
#include "kaas/store/database.h"
#include "kaas/store/records.h"

namespace kaas::auth {

// argon2id (libsodium crypto_pwhash_str, interactive limits).
std::string HashPassword(const std::string& password);
bool VerifyPassword(const std::string& hash, const std::string& password);

// The authenticated caller of a request.
struct Principal {
  std::string user_id;
  std::string username;
  bool is_admin = false;
  std::string token_id;  // the token this request authenticated with
  std::vector<store::Membership> memberships;
  // Set when the request came with a deploy token (DESIGN.md §6.5): the caller is then no
  // admin and has one membership, role kDeployerRole in the token's team, and sees only that
  // team's clusters this selector matches (read at each request, so relabelling takes effect).
  std::optional<LabelSelector> deploy_selector;

  bool IsDeployer() const { return deploy_selector.has_value(); }
  // The caller's role in the team ("" when not a member).
  std::string RoleIn(const std::string& team_id) const;
  // The ids of the teams the caller is a member of.
  std::vector<std::string> TeamIds() const;
};

// The audit action of a team role set or removed from a directory user's groups at login.
inline constexpr const char* kDirectorySyncAction = "directory group sync";

// The role of a deploy token: list the deploy targets of one team, fetch their kubeconfigs.
inline constexpr const char* kDeployerRole = "deployer";

struct LoginResult {
  std::string token;  // shown once; only its hash is stored
  int64_t expires_at = 0;
  store::User user;
};

struct AuthOptions {
  int64_t session_ttl_ms = 12LL * 3600 * 1000;
  int64_t max_token_ttl_hours = 24 * 365;
  RateLimitOptions rate_limit;
  // With a company directory: the groups whose members get a team role (DESIGN.md §6.5).
  std::vector<GroupMapping> directory_groups;
};

// An API token as issued: `token` is shown this once and stored only as a hash.
struct IssuedToken {
  store::Token record;
  std::string token;
};

class AuthService {
 public:
  // `directory` (may be null: local users only) checks the passwords of the users kaas does not
  // hold a password for.
  AuthService(store::Database& db, const Clock& clock, AuthOptions options,
              Directory* directory = nullptr)
      : db_(db),
        clock_(clock),
        options_(std::move(options)),
        directory_(directory),
        limiter_(db, clock, options_.rate_limit) {}

  // kUnauthenticated for an unknown user or a wrong password (same message and similar time
  // for both) and for a disabled user; kRateLimited after too many failures for the user from
  // this client address, or for the address.
  // With a directory, a username that is not a local user's is checked there (a local user is
  // never looked up in it): on success the user is created on first login (source
  // "directory", no local password) and their role in every team of
  // AuthOptions::directory_groups is set from their groups — added, changed, or removed when
  // no group gives one any more (each change audited); a team named there that does not exist
  // yet is created.
  // Memberships in other teams are left alone. A directory that cannot answer is
  // kUnavailable (and counts as no failed login); local users log in regardless.
  Result<LoginResult> Login(const std::string& username, const std::string& password,
                            const std::string& remote_addr);
  // Revokes the token the principal authenticated with.
  Status Logout(const Principal& who);

  // kInvalidArgument (field named) for a bad username or a password under 12 characters;
  // kAlreadyExists for a taken name.
  Result<store::User> CreateUser(const std::string& username, const std::string& password,
                                 bool is_admin);
  // Every user, by name.
  Result<std::vector<store::User>> ListUsers();
  // Disables (every token and session of the user revoked in the same transaction, so their
  // next request is 401) or enables the user. kNotFound for an unknown user; kConflict for a
  // caller disabling themself. The caller's rights are checked by the route (platform admin).
  Result<store::User> SetDisabled(const Principal& who, const std::string& username, bool disabled);
  // A user changes their own password (old_password required and checked like a login: a wrong
  // one counts as a failed login from `remote_addr`, kPermissionDenied), or a platform admin
  // sets anyone else's (old_password ignored). kFailedPrecondition for a directory user: their
  // password lives in the directory. Every other login session of the user is
  // revoked; API tokens stay. kPermissionDenied for someone else's password without being a
  // platform admin; kNotFound for an unknown user; kInvalidArgument for a bad new password.
  Status ChangePassword(const Principal& who, const std::string& username,
                        const std::string& old_password, const std::string& new_password,
                        const std::string& remote_addr);

  // API tokens of the caller. ttl_hours in 1..max_token_ttl_hours.
  Result<IssuedToken> CreateToken(const Principal& who, const std::string& name, int64_t ttl_hours);
  // A deploy token of `team_id` for the clusters `selector` matches (kInvalidArgument on field
  // "selector" with the position when it does not parse; "" matches every cluster of the team).
  // The caller must already have been checked as that team's admin (Action::kManageTeam). The
  // token authenticates only while its issuer is still that team's admin or a platform admin.
  Result<IssuedToken> CreateDeployToken(const Principal& who, const std::string& name,
                                        int64_t ttl_hours, const std::string& team_id,
                                        const std::string& selector);
  // The live API tokens of the caller, or with `username` of that user (platform admins only,
  // else kPermissionDenied; kNotFound for an unknown user).
  Result<std::vector<store::Token>> ListTokens(const Principal& who,
                                               const std::string& username = "");
  // kNotFound unless the token is the caller's (platform admins may revoke any).
  Status RevokeToken(const Principal& who, const std::string& token_id);
  // Resolves "Bearer <token>"; kUnauthenticated when missing, unknown, expired or revoked, or
  // when its user is disabled.
  Result<Principal> Authenticate(const std::string& authorization_header);

  // Creates the platform admin `admin` on an empty database. Uses `password` when given,
  // otherwise generates one. Returns the password when it was generated, "" otherwise.
  Result<std::string> BootstrapAdmin(const std::string& password);

 private:
  store::Database& db_;
  const Clock& clock_;
  AuthOptions options_;
  Directory* directory_;
  Result<LoginResult> DirectoryLogin(const std::string& username, const std::string& password,
                                     const std::string& remote_addr);
  // Sets the directory user's role in each team of options_.directory_groups to `roles`' entry,
  // and audits each change (action kDirectorySyncAction, in the team).
  void SyncDirectoryRoles(store::Tx& tx, const store::User& user,
                          const std::map<std::string, std::string>& roles,
                          const std::string& remote_addr);
  // A new login session of `user`: the answer, and the token record to insert.
  LoginResult NewSession(const store::User& user, store::Token& token) const;
  Result<IssuedToken> IssueApiToken(const Principal& who, const std::string& name,
                                    int64_t ttl_hours, store::Token record);

  LoginRateLimiter limiter_;
};

// What a caller wants to do with a team's objects.
enum class Action {
  kRead,          // see clusters, operations, quota
  kOperate,       // create / scale / upgrade / delete clusters
  kManageTeam,    // members
  kPlatformAdmin  // users, teams, quotas, inventory
};

// The one place that decides who may do what. Callers outside a team get kNotFound, exactly as
// if the object did not exist; members whose role is too weak get kPermissionDenied.
class Authorizer {
 public:
  static Status Check(const Principal& who, Action action, const std::string& team_id = "");
  // Check for one cluster of `team_id` carrying `labels`: a deploy token's caller also gets
  // kNotFound for the clusters its selector does not match.
  static Status CheckCluster(const Principal& who, Action action, const std::string& team_id,
                             const Labels& labels);
};

}  // namespace kaas::auth
