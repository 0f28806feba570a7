#include "kaas/common/labels.h"

#include <algorithm>
#include <optional>

namespace kaas {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// [A-Za-z0-9_.-], alphanumeric at both ends; the caller checks emptiness and length.
bool IsQualifiedNamePart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

// RFC 1123 subdomain: lowercase alphanumeric and '-' labels joined by '.'.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > kLabelPrefixMaxLength) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

constexpr std::string_view kNameRule =
    "1-63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or "
    "digit";

}  // namespace

std::string LabelKeyError(std::string_view key) {
  if (key.empty()) return "a label key must not be empty";
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (name.find('/') != std::string_view::npos) {
      return "a label key has at most one '/' (prefix/name)";
    }
    if (!IsDnsSubdomain(prefix)) {
      return "the prefix of a label key must be a DNS subdomain (lowercase letters, digits, '-' "
             "and '.', at most 253 characters)";
    }
  }
  if (name.size() > kLabelNameMaxLength || !IsQualifiedNamePart(name)) {
    return "the name of a label key must be " + std::string(kNameRule);
  }
  return "";
}

std::string LabelValueError(std::string_view value) {
  if (value.empty()) return "";
  if (value.size() > kLabelNameMaxLength || !IsQualifiedNamePart(value)) {
    return "a label value must be empty or " + std::string(kNameRule);
  }
  return "";
}

Status CheckLabels(const std::string& field, const Labels& labels) {
  if (labels.size() > kMaxLabelsPerObject) {
    return InvalidArgument(
        field, field + " may have at most " + std::to_string(kMaxLabelsPerObject) + " entries");
  }
  for (const auto& [key, value] : labels) {
    // The key goes into the field only when it is printable and short.
    std::string name =
        key.size() <= kLabelPrefixMaxLength + 1 + kLabelNameMaxLength ? field + "." + key : field;
    if (std::string why = LabelKeyError(key); !why.empty()) return InvalidArgument(field, why);
    if (std::string why = LabelValueError(value); !why.empty()) {
      return InvalidArgument(name, name + ": " + why);
    }
  }
  return Status::Ok();
}

bool LabelRequirement::Matches(const Labels& labels) const {
  auto it = labels.find(key);
  bool has = it != labels.end();
  auto listed = [&] { return std::binary_search(values.begin(), values.end(), it->second); };
  switch (op) {
    case SelectorOp::kEquals:
    case SelectorOp::kIn:
      return has && listed();
    case SelectorOp::kNotEquals:
    case SelectorOp::kNotIn:
      return !has || !listed();
    case SelectorOp::kExists:
      return has;
    case SelectorOp::kDoesNotExist:
      return !has;
  }
  return false;
}

bool LabelSelector::Matches(const Labels& labels) const {
  return std::all_of(requirements.begin(), requirements.end(),
                     [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::string LabelSelector::ToString() const {
  std::string out;
  for (const auto& r : requirements) {
    if (!out.empty()) out += ",";
    auto list = [&] {
      std::string s = " (";
      for (size_t i = 0; i < r.values.size(); ++i) s += (i ? "," : "") + r.values[i];
      return s + ")";
    };
    switch (r.op) {
      case SelectorOp::kEquals:
        out += r.key + "=" + r.values.front();
        break;
      case SelectorOp::kNotEquals:
        out += r.key + "!=" + r.values.front();
        break;
      case SelectorOp::kIn:
        out += r.key + " in" + list();
        break;
      case SelectorOp::kNotIn:
        out += r.key + " notin" + list();
        break;
      case SelectorOp::kExists:
        out += r.key;
        break;
      case SelectorOp::kDoesNotExist:
        out += "!" + r.key;
        break;
    }
  }
  return out;
}

namespace {

enum class Tok {
  kEnd,
  kWord,
  kComma,
  kEquals,
  kDoubleEquals,
  kNotEquals,
  kNot,
  kOpen,
  kClose,
  kOther
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // the word, or the symbol as written
  size_t pos = 0;    // 0-based offset in the selector
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
// Kubernetes' special symbols; '<' and '>' (its gt/lt operators) are not supported here.
bool IsSymbol(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : text_(text) { Advance(); }

  Result<LabelSelector> Parse() {
    LabelSelector s;
    if (tok_.kind == Tok::kEnd) return s;
    while (true) {
      KAAS_ASSIGN_OR_RETURN(LabelRequirement r, Requirement());
      s.requirements.push_back(std::move(r));
      if (tok_.kind == Tok::kEnd) return s;
      if (tok_.kind != Tok::kComma) return Error("expected ',' or the end of the selector");
      Advance();
    }
  }

 private:
  void Advance() {
    size_t i = next_;
    while (i < text_.size() && IsSpace(text_[i])) ++i;
    tok_ = Token{Tok::kEnd, "", i};
    if (i >= text_.size()) {
      next_ = i;
      return;
    }
    char c = text_[i];
    if (!IsSymbol(c)) {
      size_t end = i;
      while (end < text_.size() && !IsSpace(text_[end]) && !IsSymbol(text_[end])) ++end;
      tok_ = Token{Tok::kWord, std::string(text_.substr(i, end - i)), i};
      next_ = end;
      return;
    }
    char d = i + 1 < text_.size() ? text_[i + 1] : '\0';
    if ((c == '=' || c == '!') && d == '=') {
      tok_ = Token{c == '=' ? Tok::kDoubleEquals : Tok::kNotEquals, std::string{c, d}, i};
      next_ = i + 2;
      return;
    }
    Tok kind = c == '='   ? Tok::kEquals
               : c == '!' ? Tok::kNot
               : c == '(' ? Tok::kOpen
               : c == ')' ? Tok::kClose
               : c == ',' ? Tok::kComma
                          : Tok::kOther;
    tok_ = Token{kind, std::string(1, c), i};
    next_ = i + 1;
  }

  Status ErrorAt(size_t pos, const std::string& what) const {
    return InvalidArgument("selector",
                           "selector: position " + std::to_string(pos + 1) + ": " + what);
  }
  Status Error(const std::string& expected) const {
    std::string found = tok_.kind == Tok::kEnd ? "the end" : "'" + tok_.text + "'";
    return ErrorAt(tok_.pos, expected + ", found " + found);
  }

  Result<std::string> Key() {
    if (tok_.kind != Tok::kWord) return Error("expected a label key");
    if (std::string why = LabelKeyError(tok_.text); !why.empty()) return ErrorAt(tok_.pos, why);
    std::string key = tok_.text;
    Advance();
    return key;
  }

  // A value where one may be given; `empty_before` are the tokens that mean "the empty value".
  Result<std::string> Value(Tok empty_before_1, Tok empty_before_2) {
    if (tok_.kind == empty_before_1 || tok_.kind == empty_before_2) return std::string();
    if (tok_.kind != Tok::kWord) return Error("expected a label value");
    if (std::string why = LabelValueError(tok_.text); !why.empty()) {
      return ErrorAt(tok_.pos, why);
    }
    std::string value = tok_.text;
    Advance();
    return value;
  }

  Result<LabelRequirement> Requirement() {
    LabelRequirement r;
    if (tok_.kind == Tok::kNot) {
      Advance();
      KAAS_ASSIGN_OR_RETURN(r.key, Key());
      r.op = SelectorOp::kDoesNotExist;
      return r;
    }
    if (tok_.kind == Tok::kWord && (tok_.text == "in" || tok_.text == "notin")) {
      return Error("expected a label key or '!'");
    }
    if (tok_.kind != Tok::kWord) return Error("expected a label key or '!'");
    KAAS_ASSIGN_OR_RETURN(r.key, Key());
    switch (tok_.kind) {
      case Tok::kEnd:
      case Tok::kComma:
        r.op = SelectorOp::kExists;
        return r;
      case Tok::kEquals:
      case Tok::kDoubleEquals:
      case Tok::kNotEquals: {
        r.op = tok_.kind == Tok::kNotEquals ? SelectorOp::kNotEquals : SelectorOp::kEquals;
        Advance();
        KAAS_ASSIGN_OR_RETURN(std::string v, Value(Tok::kEnd, Tok::kComma));
        r.values = {v};
        return r;
      }
      case Tok::kWord:
        if (tok_.text == "in" || tok_.text == "notin") break;
        [[fallthrough]];
      default:
        return Error("expected '=', '==', '!=', 'in', 'notin', ',' or the end of the selector");
    }
    r.op = tok_.text == "in" ? SelectorOp::kIn : SelectorOp::kNotIn;
    Advance();
    if (tok_.kind != Tok::kOpen) return Error("expected '('");
    Advance();
    while (true) {
      KAAS_ASSIGN_OR_RETURN(std::string v, Value(Tok::kComma, Tok::kClose));
      r.values.push_back(std::move(v));
      if (tok_.kind == Tok::kClose) break;
      if (tok_.kind != Tok::kComma) return Error("expected ',' or ')'");
      Advance();
    }
    Advance();
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    return r;
  }

  std::string_view text_;
  size_t next_ = 0;
  Token tok_;
};

}  // namespace

Result<LabelSelector> ParseLabelSelector(std::string_view text) {
  return SelectorParser(text).Parse();
}

}  // namespace kaas
