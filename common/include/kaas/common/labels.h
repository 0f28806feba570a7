#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kaas/common/status.h"

namespace kaas {

// Labels and label selectors with Kubernetes' syntax and meaning (apimachinery's
// validation.IsQualifiedName / IsValidLabelValue and labels.Parse). They live in common/ because
// three modules below and beside lifecycle/ need the same rules: store/ turns a parsed selector
// into SQL, lifecycle/ validates labels on admission, and the CLI (which links common/ only)
// checks `kaas cluster label k=v k2-` before sending it.

// Key -> value; ordered so that every rendering is stable.
using Labels = std::map<std::string, std::string>;

inline constexpr size_t kLabelNameMaxLength = 63;     // the name part of a key, and a value
inline constexpr size_t kLabelPrefixMaxLength = 253;  // the optional DNS-subdomain prefix
inline constexpr size_t kMaxLabelsPerObject = 64;

// A key: an optional prefix (a DNS subdomain: lowercase alphanumeric and '-' labels joined by
// '.', at most 253 characters) and '/', then a name of 1..63 characters of [A-Za-z0-9_.-]
// starting and ending with an alphanumeric character. "" when valid, else why not.
std::string LabelKeyError(std::string_view key);
// A value: empty, or 1..63 characters of [A-Za-z0-9_.-] starting and ending alphanumeric.
std::string LabelValueError(std::string_view value);

// OK when every key and value is valid and there are at most kMaxLabelsPerObject; else
// kInvalidArgument naming `field` + "." + the key (or `field` itself for the count).
Status CheckLabels(const std::string& field, const Labels& labels);

enum class SelectorOp {
  kEquals,        // key=value, key==value
  kNotEquals,     // key!=value (also true when the key is absent)
  kIn,            // key in (a,b)
  kNotIn,         // key notin (a,b) (also true when the key is absent)
  kExists,        // key
  kDoesNotExist,  // !key
};

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  std::vector<std::string> values;  // sorted, unique; one for (Not)Equals, none for (Does)Exist(s)

  bool Matches(const Labels& labels) const;
  bool operator==(const LabelRequirement&) const = default;
};

// Requirements ANDed together; empty matches everything.
struct LabelSelector {
  std::vector<LabelRequirement> requirements;

  bool Matches(const Labels& labels) const;
  bool empty() const { return requirements.empty(); }
  // The canonical text, which parses back to the same selector ("env=prod,!legacy").
  std::string ToString() const;
};

// Parses Kubernetes' selector grammar: requirements separated by ',' (AND), each one of
// `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)`,
// `key notin (v1,v2)`; spaces around tokens are ignored; `=` may have an empty value and
// `in ()` means the empty value, as in Kubernetes. Keys and values are validated as above.
// A bad selector is kInvalidArgument on field "selector" whose message names the 1-based
// character position of the error: "selector: position 9: expected a value, found ')'".
Result<LabelSelector> ParseLabelSelector(std::string_view text);

}  // namespace kaas
