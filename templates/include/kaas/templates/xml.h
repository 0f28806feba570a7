#pragma once

#include <string>
#include <string_view>

namespace kaas::templates {

// `text` as XML character data or as an attribute value in either quote style: & < > " ' are
// written as entities. The one XML escaper of kaas: the renderer's *.xml templates and the
// storage XML of the real-VM path both use it.
std::string XmlEscape(std::string_view text);

}  // namespace kaas::templates
