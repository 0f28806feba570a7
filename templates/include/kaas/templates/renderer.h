#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "kaas/common/status.h"

namespace kaas::templates {

using Values = std::map<std::string, std::string>;

// Renders the text templates under the templates folder (domain XML, cloud-init, kubeadm
// config). A template refers to a value as {{name}}; every name must be given, so a typo fails
// the render instead of shipping an empty field. Values substituted into *.xml templates are
// XML-escaped. Template files are read once and cached; thread-safe.
class Renderer {
 public:
  explicit Renderer(std::filesystem::path root) : root_(std::move(root)) {}

  Result<std::string> Render(const std::string& name, const Values& values) const;

  // The folder holding the templates (playbooks are run from root()/ansible).
  const std::filesystem::path& root() const { return root_; }

  // Substitutes {{name}} in `text`; exposed for tests.
  static Result<std::string> Substitute(const std::string& text, const Values& values,
                                        bool xml_escape);

 private:
  Result<std::string> Load(const std::string& name) const;

  std::filesystem::path root_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::string> cache_;
};

}  // namespace kaas::templates
