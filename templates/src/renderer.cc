#include "kaas/templates/renderer.h"

#include <fstream>
#include <sstream>

#include "kaas/templates/xml.h"

namespace kaas::templates {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::string> Renderer::Substitute(const std::string& text, const Values& values,
                                         bool xml_escape) {
  std::string out;
  out.reserve(text.size() + 256);
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      return InvalidArgument("template", "unterminated {{ at offset " + std::to_string(open));
    }
    out.append(text, pos, open - pos);
    std::string key = text.substr(open + 2, close - open - 2);
    auto it = values.find(key);
    if (it == values.end()) {
      return InvalidArgument("template", "no value for {{" + key + "}}");
    }
    out += xml_escape ? XmlEscape(it->second) : it->second;
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

Result<std::string> Renderer::Load(const std::string& name) const {
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(name); it != cache_.end()) return it->second;
  std::ifstream in(root_ / name);
  if (!in) return NotFound("template " + (root_ / name).string() + " not found");
  std::stringstream ss;
  ss << in.rdbuf();
  cache_[name] = ss.str();
  return ss.str();
}

Result<std::string> Renderer::Render(const std::string& name, const Values& values) const {
  KAAS_ASSIGN_OR_RETURN(std::string text, Load(name));
  auto out = Substitute(text, values, EndsWith(name, ".xml"));
  if (!out.ok()) return Status(out.status().code(), name + ": " + out.status().message());
  return out;
}

}  // namespace kaas::templates
