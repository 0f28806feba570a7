#pragma once

#include <string>
#include <string_view>

namespace kaas::pki {

// A self-contained kubeconfig (apiVersion v1, kind Config) for one user of one cluster: the CA,
// client certificate and key inline as base64 *-data fields. Entry names: cluster
// "<cluster_name>"; user and context "<user_name>@<cluster_name>", so that kubeconfigs of
// several clusters can be merged (KUBECONFIG=a:b) without one user entry shadowing another's
// credentials. current-context is set. Arguments are PEM text as issued by certificates.h.
std::string RenderKubeconfig(std::string_view cluster_name, std::string_view server_url,
                             std::string_view ca_cert_pem, std::string_view user_name,
                             std::string_view client_cert_pem, std::string_view client_key_pem);

}  // namespace kaas::pki
