#include "kaas/auth/auth.h"

#include <sodium.h>

#include <set>

#include "kaas/common/ids.h"
#include "kaas/common/log.h"
#include "kaas/common/text.h"
#include "kaas/store/repositories.h"

namespace kaas::auth {

std::string HashPassword(const std::string& password) {
  if (sodium_init() < 0) return "";
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return "";
  }
  return out;
}

bool VerifyPassword(const std::string& hash, const std::string& password) {
  if (hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string Principal::RoleIn(const std::string& team_id) const {
  for (const auto& m : memberships) {
    if (m.team_id == team_id) return m.role;
  }
  return "";
}

std::vector<std::string> Principal::TeamIds() const {
  std::vector<std::string> ids;
  for (const auto& m : memberships) ids.push_back(m.team_id);
  return ids;
}

namespace {

bool IsUsername(const std::string& s) {
  if (s.empty() || s.size() > kMaxUsernameBytes) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

const Status kBadLogin(Code::kUnauthenticated, "invalid username or password");
const Status kDisabled(Code::kUnauthenticated, "this account is disabled");
const Status kDirectoryPassword(Code::kFailedPrecondition,
                                "this user logs in with the company directory's password; change "
                                "it there");

}  // namespace

Result<LoginResult> AuthService::Login(const std::string& username, const std::string& password,
                                       const std::string& remote_addr) {
  if (username.size() > kMaxUsernameBytes || password.size() > kMaxPasswordBytes) {
    return InvalidArgument("username", "username or password is too long");
  }
  KAAS_RETURN_IF_ERROR(limiter_.Check(username, remote_addr));
  std::optional<store::User> user;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    user = store::users::FindByUsername(tx, username);
    return Status::Ok();
  }));
  if (directory_ != nullptr && !(user && user->source == store::kUserSourceLocal)) {
    return DirectoryLogin(username, password, remote_addr);
  }
  // Verify against a dummy hash for unknown users too, so timing does not reveal which
  // usernames exist.
  static const std::string kDummy = HashPassword("kaas-dummy-password");
  bool ok = VerifyPassword(user ? user->password_hash : kDummy, password) && user.has_value();
  if (!ok) {
    limiter_.RecordFailure(username, remote_addr);
    return kBadLogin;
  }
  limiter_.RecordSuccess(username, remote_addr);
  // Said only to whoever knows the password.
  if (user->disabled_at != 0) return kDisabled;

  store::Token token;
  LoginResult result = NewSession(*user, token);
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    store::tokens::Insert(tx, token);
    return Status::Ok();
  }));
  return result;
}

LoginResult AuthService::NewSession(const store::User& user, store::Token& token) const {
  LoginResult result;
  result.token = "kaas_" + RandomHex(24);
  result.expires_at = clock_.NowMs() + options_.session_ttl_ms;
  result.user = user;
  token = {NewId("tok"),   user.id,           "login", Sha256Hex(result.token),
           clock_.NowMs(), result.expires_at, 0};
  return result;
}

Result<LoginResult> AuthService::DirectoryLogin(const std::string& username,
                                                const std::string& password,
                                                const std::string& remote_addr) {
  // A name kaas could not hold is nobody's, whatever the directory says.
  auto found = IsUsername(username) ? directory_->Authenticate(username, password)
                                    : Result<DirectoryUser>(kBadLogin);
  if (!found.ok()) {
    if (found.status().code() != Code::kUnauthenticated) {
      log::Error("directory login failed: the directory did not answer",
                 {{"username", username}, {"error", found.status().message()}});
      return Status(Code::kUnavailable, found.status().message() +
                                            "; directory users cannot log in until it answers "
                                            "(local users can)");
    }
    limiter_.RecordFailure(username, remote_addr);
    return kBadLogin;
  }
  limiter_.RecordSuccess(username, remote_addr);
  auto roles = TeamRolesFromGroups(options_.directory_groups, found->groups);

  LoginResult result;
  auto login = [&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, username);
    if (!user) {
      user = store::User{NewId("usr"), username, "", false, clock_.NowMs()};
      user->source = store::kUserSourceDirectory;
      store::users::Insert(tx, *user);
      log::Info("directory user created at first login",
                {{"username", username}, {"dn", found->dn}});
    } else if (user->source != store::kUserSourceDirectory) {
      return kBadLogin;  // a local user of that name was created meanwhile: theirs it is
    }
    // Said only to whoever knows the password; nothing of theirs changes.
    if (user->disabled_at != 0) return kDisabled;
    SyncDirectoryRoles(tx, *user, roles, remote_addr);
    store::Token token;
    result = NewSession(*user, token);
    store::tokens::Insert(tx, token);
    return Status::Ok();
  };
  Status st = db_.Write(login);
  // Two first logins at once (or a mapped team created meanwhile): the second one finds what
  // the first one inserted.
  if (st.code() == Code::kAlreadyExists) st = db_.Write(login);
  if (!st.ok()) return st;
  return result;
}

void AuthService::SyncDirectoryRoles(store::Tx& tx, const store::User& user,
                                     const std::map<std::string, std::string>& roles,
                                     const std::string& remote_addr) {
  std::set<std::string> managed;
  for (const auto& m : options_.directory_groups) managed.insert(m.team);
  std::map<std::string, std::string> current;  // team id -> role
  for (const auto& m : store::memberships::ListForUser(tx, user.id)) current[m.team_id] = m.role;
  for (const auto& team_name : managed) {
    auto want = roles.find(team_name);
    auto team = store::teams::FindByName(tx, team_name);
    if (!team) {
      if (want == roles.end()) continue;
      team = store::Team{NewId("tm"), team_name, clock_.NowMs()};
      store::teams::Insert(tx, *team);
      log::Info("team of the directory's group map created", {{"team", team_name}});
    }
    auto have = current.find(team->id);
    std::string was = have == current.end() ? "" : have->second;
    std::string now = want == roles.end() ? "" : want->second;
    if (was == now) continue;
    if (now.empty()) {
      store::memberships::Delete(tx, team->id, user.id);
    } else {
      store::memberships::Put(tx, team->id, user.id, now);
    }
    std::string change = user.username + ": " + (now.empty() ? "no role" : "role " + now);
    if (!was.empty()) change += " (was " + was + ")";
    store::audit::Insert(tx, {NewId("au"), clock_.NowMs(), user.username, team->id,
                              kDirectorySyncAction, change, remote_addr, 200, "ok"});
  }
}

Result<Principal> AuthService::Authenticate(const std::string& header) {
  static constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    return Status(Code::kUnauthenticated, "missing bearer token");
  }
  std::string hash = Sha256Hex(std::string_view(header).substr(kBearer.size()));
  Principal p;
  Status st = db_.Read([&](store::Tx& tx) {
    auto token = store::tokens::FindByHash(tx, hash);
    if (!token || token->revoked_at != 0 || token->expires_at <= clock_.NowMs()) {
      return Status(Code::kUnauthenticated, "invalid or expired token");
    }
    auto user = store::users::FindById(tx, token->user_id);
    if (!user || user->disabled_at != 0) {
      return Status(Code::kUnauthenticated, "invalid or expired token");
    }
    p.user_id = user->id;
    p.username = user->username;
    p.is_admin = user->is_admin;
    p.token_id = token->id;
    if (token->role != kDeployerRole) {
      p.memberships = store::memberships::ListForUser(tx, user->id);
      return Status::Ok();
    }
    auto team = store::teams::FindById(tx, token->team_id);
    auto selector = ParseLabelSelector(token->selector);
    if (!team || !selector.ok()) return Status(Code::kUnauthenticated, "invalid or expired token");
    // A deploy token lives only as long as its issuer may issue it: a team admin who leaves
    // the team (or is demoted) takes their pipelines' access along.
    bool may_issue = user->is_admin;
    for (const auto& m : store::memberships::ListForUser(tx, user->id)) {
      if (m.team_id == team->id && m.role == "admin") may_issue = true;
    }
    if (!may_issue) return Status(Code::kUnauthenticated, "invalid or expired token");
    p.is_admin = false;
    p.memberships = {{team->id, team->name, user->id, user->username, kDeployerRole}};
    p.deploy_selector = std::move(selector).value();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return p;
}

Status AuthService::Logout(const Principal& who) {
  return db_.Write([&](store::Tx& tx) {
    store::tokens::Revoke(tx, who.token_id, clock_.NowMs());
    return Status::Ok();
  });
}

namespace {

Status CheckNewPassword(const std::string& field, const std::string& password) {
  if (password.size() < 12) {
    return InvalidArgument(field, field + " must be at least 12 characters");
  }
  if (password.size() > kMaxPasswordBytes) return InvalidArgument(field, field + " is too long");
  return Status::Ok();
}

}  // namespace

Result<store::User> AuthService::CreateUser(const std::string& username,
                                            const std::string& password, bool is_admin) {
  if (!IsUsername(username)) {
    return InvalidArgument("username",
                           "username must be 1-64 lowercase letters, digits, '-', '.' or '_', "
                           "starting with a letter or digit");
  }
  KAAS_RETURN_IF_ERROR(CheckNewPassword("password", password));
  store::User user{NewId("usr"), username, HashPassword(password), is_admin, clock_.NowMs()};
  if (user.password_hash.empty()) return Internal("password hashing failed");
  Status st = db_.Write([&](store::Tx& tx) {
    store::users::Insert(tx, user);
    return Status::Ok();
  });
  if (st.code() == Code::kAlreadyExists) {
    return Status(Code::kAlreadyExists, "user " + username + " already exists");
  }
  if (!st.ok()) return st;
  return user;
}

Result<std::vector<store::User>> AuthService::ListUsers() {
  std::vector<store::User> users;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    users = store::users::List(tx);
    return Status::Ok();
  }));
  return users;
}

Result<store::User> AuthService::SetDisabled(const Principal& who, const std::string& username,
                                             bool disabled) {
  if (disabled && username == who.username) {
    return Status(Code::kConflict, "you cannot disable yourself");
  }
  store::User user;
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    auto found = store::users::FindByUsername(tx, username);
    if (!found) return NotFound("user " + username + " not found");
    user = *found;
    int64_t now = clock_.NowMs();
    if (!disabled) {
      user.disabled_at = 0;
    } else if (user.disabled_at == 0) {
      user.disabled_at = now;
    }
    store::users::SetDisabled(tx, user.id, user.disabled_at);
    if (disabled) store::tokens::RevokeForUser(tx, user.id, "", "", now);
    return Status::Ok();
  }));
  return user;
}

Status AuthService::ChangePassword(const Principal& who, const std::string& username,
                                   const std::string& old_password, const std::string& new_password,
                                   const std::string& remote_addr) {
  bool self = username == who.username;
  if (!self && !who.is_admin) {
    return {Code::kPermissionDenied, "only a platform administrator sets another user's password"};
  }
  KAAS_RETURN_IF_ERROR(CheckNewPassword("new_password", new_password));
  if (old_password.size() > kMaxPasswordBytes) {
    return InvalidArgument("old_password", "old_password is too long");
  }
  if (self) {
    KAAS_RETURN_IF_ERROR(limiter_.Check(username, remote_addr));
    std::optional<store::User> me;
    KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
      me = store::users::FindById(tx, who.user_id);
      return Status::Ok();
    }));
    if (me && me->source == store::kUserSourceDirectory) return kDirectoryPassword;
    if (!me || !VerifyPassword(me->password_hash, old_password)) {
      limiter_.RecordFailure(username, remote_addr);
      return {Code::kPermissionDenied, "old_password is not the current password"};
    }
  }
  std::string hash = HashPassword(new_password);
  if (hash.empty()) return Internal("password hashing failed");
  return db_.Write([&](store::Tx& tx) {
    auto user = store::users::FindByUsername(tx, username);
    if (!user) return NotFound("user " + username + " not found");
    if (user->source == store::kUserSourceDirectory) return kDirectoryPassword;
    store::users::SetPasswordHash(tx, user->id, hash);
    store::tokens::RevokeForUser(tx, user->id, "session", self ? who.token_id : "", clock_.NowMs());
    return Status::Ok();
  });
}

Result<IssuedToken> AuthService::CreateToken(const Principal& who, const std::string& name,
                                             int64_t ttl_hours) {
  store::Token record;
  record.kind = "api";
  return IssueApiToken(who, name, ttl_hours, std::move(record));
}

Result<IssuedToken> AuthService::CreateDeployToken(const Principal& who, const std::string& name,
                                                   int64_t ttl_hours, const std::string& team_id,
                                                   const std::string& selector) {
  KAAS_ASSIGN_OR_RETURN(LabelSelector parsed, ParseLabelSelector(selector));
  store::Token record;
  record.kind = "api";
  record.team_id = team_id;
  record.role = kDeployerRole;
  record.selector = parsed.ToString();
  return IssueApiToken(who, name, ttl_hours, std::move(record));
}

Result<IssuedToken> AuthService::IssueApiToken(const Principal& who, const std::string& name,
                                               int64_t ttl_hours, store::Token record) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return InvalidArgument("name", "name must be 1-" + std::to_string(kMaxNameBytes) + " bytes");
  }
  if (ttl_hours < 1 || ttl_hours > options_.max_token_ttl_hours) {
    return InvalidArgument("ttl_hours", "ttl_hours must be between 1 and " +
                                            std::to_string(options_.max_token_ttl_hours));
  }
  IssuedToken out;
  out.token = "kaas_" + RandomHex(24);
  int64_t now = clock_.NowMs();
  record.id = NewId("tok");
  record.user_id = who.user_id;
  record.name = name;
  record.token_hash = Sha256Hex(out.token);
  record.created_at = now;
  record.expires_at = now + ttl_hours * 3600 * 1000;
  out.record = std::move(record);
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    store::tokens::Insert(tx, out.record);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<store::Token>> AuthService::ListTokens(const Principal& who,
                                                          const std::string& username) {
  bool other = !username.empty() && username != who.username;
  if (other && !who.is_admin) {
    return Status(Code::kPermissionDenied, "only a platform administrator lists others' tokens");
  }
  std::vector<store::Token> tokens;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    std::string user_id = who.user_id;
    if (other) {
      auto user = store::users::FindByUsername(tx, username);
      if (!user) return NotFound("user " + username + " not found");
      user_id = user->id;
    }
    tokens = store::tokens::ListLive(tx, user_id, "api", clock_.NowMs());
    return Status::Ok();
  }));
  return tokens;
}

Status AuthService::RevokeToken(const Principal& who, const std::string& token_id) {
  return db_.Write([&](store::Tx& tx) {
    auto token = store::tokens::Find(tx, token_id);
    if (!token || token->revoked_at != 0 || (token->user_id != who.user_id && !who.is_admin)) {
      return NotFound("token " + token_id + " not found");
    }
    store::tokens::Revoke(tx, token_id, clock_.NowMs());
    return Status::Ok();
  });
}

Result<std::string> AuthService::BootstrapAdmin(const std::string& password) {
  std::string generated;
  Status st = db_.Write([&](store::Tx& tx) {
    if (store::users::Count(tx) > 0) return Status::Ok();
    std::string pw = password;
    if (pw.empty()) pw = generated = RandomHex(12);
    store::users::Insert(tx, {NewId("usr"), "admin", HashPassword(pw), true, clock_.NowMs()});
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return generated;
}

Status Authorizer::Check(const Principal& who, Action action, const std::string& team_id) {
  if (who.is_admin) return Status::Ok();
  if (action == Action::kPlatformAdmin) {
    return {Code::kPermissionDenied, "this needs a platform administrator"};
  }
  std::string role = who.RoleIn(team_id);
  if (role.empty()) return NotFound("not found");
  switch (action) {
    case Action::kRead:
      return Status::Ok();
    case Action::kOperate:
      if (role == "admin" || role == "member") return Status::Ok();
      return {Code::kPermissionDenied, "role " + role + " may only read"};
    case Action::kManageTeam:
      if (role == "admin") return Status::Ok();
      return {Code::kPermissionDenied, "managing the team needs the team admin role"};
    case Action::kPlatformAdmin:
      break;
  }
  return {Code::kPermissionDenied, "forbidden"};
}

Status Authorizer::CheckCluster(const Principal& who, Action action, const std::string& team_id,
                                const Labels& labels) {
  KAAS_RETURN_IF_ERROR(Check(who, action, team_id));
  if (who.deploy_selector && !who.deploy_selector->Matches(labels)) return NotFound("not found");
  return Status::Ok();
}

}  // namespace kaas::auth
