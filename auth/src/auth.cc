#include "kaas/auth/auth.h"

#include <sodium.h>

#include "kaas/common/ids.h"
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

Result<LoginResult> AuthService::Login(const std::string& username, const std::string& password) {
  std::optional<store::User> user;
  KAAS_RETURN_IF_ERROR(db_.Read([&](store::Tx& tx) {
    user = store::users::FindByUsername(tx, username);
    return Status::Ok();
  }));
  // Verify against a dummy hash for unknown users too, so timing does not reveal which
  // usernames exist.
  static const std::string kDummy = HashPassword("kaas-dummy-password");
  bool ok = VerifyPassword(user ? user->password_hash : kDummy, password) && user.has_value();
  if (!ok) return Status(Code::kUnauthenticated, "invalid username or password");

  LoginResult result;
  result.token = "kaas_" + RandomHex(24);
  result.expires_at = clock_.NowMs() + options_.session_ttl_ms;
  result.user = *user;
  store::Token token{NewId("tok"),   user->id,          "login", Sha256Hex(result.token),
                     clock_.NowMs(), result.expires_at, 0};
  KAAS_RETURN_IF_ERROR(db_.Write([&](store::Tx& tx) {
    store::tokens::Insert(tx, token);
    return Status::Ok();
  }));
  return result;
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
    if (!user) return Status(Code::kUnauthenticated, "invalid or expired token");
    p.user_id = user->id;
    p.username = user->username;
    p.is_admin = user->is_admin;
    p.memberships = store::memberships::ListForUser(tx, user->id);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return p;
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

}  // namespace kaas::auth
