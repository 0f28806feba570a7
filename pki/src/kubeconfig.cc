#include "kaas/pki/kubeconfig.h"

#include <yaml-cpp/binary.h>
#include <yaml-cpp/emitter.h>
#include <yaml-cpp/emittermanip.h>

namespace kaas::pki {
namespace {

std::string Base64(std::string_view data) {
  return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

// Names and URLs come from users: always quoted, so that "123", "true" or "null" stay strings.
YAML::Emitter& Quoted(YAML::Emitter& out, std::string_view s) {
  return out << YAML::DoubleQuoted << std::string(s);
}

}  // namespace

std::string RenderKubeconfig(std::string_view cluster_name, std::string_view server_url,
                             std::string_view ca_cert_pem, std::string_view user_name,
                             std::string_view client_cert_pem, std::string_view client_key_pem) {
  const std::string entry = std::string(user_name) + "@" + std::string(cluster_name);
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";

  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  Quoted(out, cluster_name);
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value;
  Quoted(out, server_url);
  out << YAML::Key << "certificate-authority-data" << YAML::Value << Base64(ca_cert_pem);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  Quoted(out, entry);
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "client-certificate-data" << YAML::Value << Base64(client_cert_pem);
  out << YAML::Key << "client-key-data" << YAML::Value << Base64(client_key_pem);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  Quoted(out, entry);
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value;
  Quoted(out, cluster_name);
  out << YAML::Key << "user" << YAML::Value;
  Quoted(out, entry);
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "current-context" << YAML::Value;
  Quoted(out, entry);
  out << YAML::Key << "preferences" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace kaas::pki
