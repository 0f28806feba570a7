#include "kaas/cli/credential.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

namespace kaas::cli {
namespace {

Result<std::string> Base64Decode(const std::string& text, const std::string& what) {
  std::string in;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ') in += c;
  }
  if (in.empty() || in.size() % 4 != 0) return InvalidArgument(what, what + " is not base64");
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return InvalidArgument(what, what + " is not base64");
  size_t padding = in.size() - in.find_last_not_of('=') - 1;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

Result<int64_t> NotAfter(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, X509_free);
  if (!cert) return InvalidArgument("client-certificate-data", "no PEM certificate in it");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return InvalidArgument("client-certificate-data", "the certificate has no valid notAfter");
  }
  return static_cast<int64_t>(timegm(&tm));
}

YAML::Node Child(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return YAML::Node();
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  }
  return YAML::Node();
}

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

Result<ClientCredential> ReadClientCredential(const std::string& yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("kubeconfig", std::string("the kubeconfig is not YAML: ") + e.what());
  }
  YAML::Node users = Child(root, "users");
  if (!users.IsSequence() || users.size() == 0) {
    return InvalidArgument("kubeconfig", "the kubeconfig has no user");
  }
  YAML::Node user = Child(users[0], "user");
  YAML::Node cert = Child(user, "client-certificate-data");
  YAML::Node key = Child(user, "client-key-data");
  if (!cert.IsScalar() || !key.IsScalar()) {
    return InvalidArgument("kubeconfig", "the kubeconfig's user has no client certificate");
  }
  ClientCredential c;
  KAAS_ASSIGN_OR_RETURN(c.certificate_pem, Base64Decode(cert.Scalar(), "client-certificate-data"));
  KAAS_ASSIGN_OR_RETURN(c.key_pem, Base64Decode(key.Scalar(), "client-key-data"));
  KAAS_ASSIGN_OR_RETURN(c.not_after, NotAfter(c.certificate_pem));
  return c;
}

nlohmann::json ExecCredential(const ClientCredential& c) {
  return {{"apiVersion", kExecApiVersion},
          {"kind", "ExecCredential"},
          {"spec", nlohmann::json::object()},
          {"status",
           {{"clientCertificateData", c.certificate_pem},
            {"clientKeyData", c.key_pem},
            {"expirationTimestamp", FormatRfc3339(c.not_after - kRenewBeforeSeconds)}}}};
}

std::optional<nlohmann::json> FreshCachedCredential(const std::string& path, int64_t now) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("apiVersion", "") != kExecApiVersion ||
      j.value("kind", "") != "ExecCredential") {
    return std::nullopt;
  }
  auto status = j.find("status");
  if (status == j.end() || !status->is_object()) return std::nullopt;
  for (const char* field : {"clientCertificateData", "clientKeyData", "expirationTimestamp"}) {
    if (!status->contains(field) || !(*status)[field].is_string()) return std::nullopt;
  }
  auto expires = ParseRfc3339((*status)["expirationTimestamp"].get<std::string>());
  if (!expires || *expires <= now) return std::nullopt;
  return j;
}

std::string CredentialCachePath(const std::string& config_dir, const std::string& server,
                                const std::string& username, const std::string& team,
                                const std::string& cluster) {
  std::filesystem::path dir = std::filesystem::path(config_dir) / "credentials";
  return (dir / (Escape(username) + "@" + Escape(server) + "_" + Escape(team) + "_" +
                 Escape(cluster) + ".json"))
      .string();
}

Result<std::string> WithExecUser(const std::string& yaml, const std::vector<std::string>& command,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& install_hint) {
  if (command.empty()) return InvalidArgument("command", "no command");
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("kubeconfig", std::string("the kubeconfig is not YAML: ") + e.what());
  }
  YAML::Node users = Child(root, "users");
  if (!users.IsSequence() || users.size() == 0) {
    return InvalidArgument("kubeconfig", "the kubeconfig has no user");
  }
  YAML::Node exec(YAML::NodeType::Map);
  exec["apiVersion"] = kExecApiVersion;
  exec["command"] = command[0];
  YAML::Node args(YAML::NodeType::Sequence);
  for (size_t i = 1; i < command.size(); ++i) args.push_back(command[i]);
  exec["args"] = args;
  YAML::Node vars(YAML::NodeType::Sequence);
  for (const auto& [name, value] : env) {
    YAML::Node var(YAML::NodeType::Map);
    var["name"] = name;
    var["value"] = value;
    vars.push_back(var);
  }
  exec["env"] = vars;
  exec["interactiveMode"] = "Never";
  exec["provideClusterInfo"] = false;
  exec["installHint"] = install_hint;
  YAML::Node user(YAML::NodeType::Map);
  user["exec"] = exec;
  // Every user of kaasd's kubeconfig (there is one) runs the plugin instead of holding a key.
  for (size_t i = 0; i < users.size(); ++i) users[i]["user"] = user;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::string FormatRfc3339(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  std::string rest = end;
  if (!rest.empty() && rest[0] == '.') {  // fractional seconds
    size_t i = 1;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i;
    rest = rest.substr(i);
  }
  if (rest != "Z") return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace kaas::cli
