#pragma once

// The kubectl side of `kaas use` and `kaas clusters`: where kubectl's config lives, merging a
// cluster's kubeconfig into it without disturbing anything else, and reading which cluster
// the current context points at.

#include <string>

#include "kaas/common/status.h"

namespace kaas::cli {

// The kubeconfig file `kaas use` writes: the first entry of $KUBECONFIG (a ':'-separated
// list), else $HOME/.kube/config.
std::string KubeconfigPath();

struct MergedKubeconfig {
  std::string yaml;     // the whole new file
  std::string context;  // the context it now selects ("alice@demo")
};

// Merges `incoming` (a kubeconfig as kaasd hands it out: clusters, users and contexts
// entries, current-context) into `existing` (a kubeconfig file's text; empty or only comments
// for a new file). Each incoming entry replaces the existing entry of its list with the same
// name, in place, or is appended; current-context becomes the incoming one. Every other entry,
// every other top-level key and the order of all of them stay as they were, and scalars keep
// their type ("0123" stays a string). Comments are not kept. kInvalidArgument when either text
// is not a kubeconfig-shaped YAML mapping.
Result<MergedKubeconfig> MergeKubeconfig(const std::string& existing, const std::string& incoming);

// Merges `incoming` into the file at `path` (created when missing) under kubectl's lock file
// (`path`.lock) and replaces it atomically with mode 0600. Returns the selected context.
Result<std::string> MergeIntoKubeconfigFile(const std::string& path, const std::string& incoming);

// Where the current context of a kubeconfig points; empty fields when it has none.
struct CurrentContext {
  std::string context;  // current-context
  std::string cluster;  // that context's cluster entry name
  std::string server;   // that cluster entry's server URL
};

// Reads `yaml` (a kubeconfig's text). kInvalidArgument when it is not YAML.
Result<CurrentContext> ReadCurrentContext(const std::string& yaml);

}  // namespace kaas::cli
