#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kaas::log {

// One JSON object per line on stdout: {"ts":..., "level":..., "msg":..., <fields>}.
// Field values are strings; never pass secrets (passwords, tokens) as fields or messages.
using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void Info(std::string_view msg, Fields fields = {});
void Warn(std::string_view msg, Fields fields = {});
void Error(std::string_view msg, Fields fields = {});

// Silences the log (tests that don't want the noise) or re-enables it.
void SetEnabled(bool enabled);

// JSON string escaping shared by the logger and hand-written JSON.
std::string JsonEscape(std::string_view s);

}  // namespace kaas::log
