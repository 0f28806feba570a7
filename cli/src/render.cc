#include "kaas/cli/render.h"

#include <algorithm>

namespace kaas::cli {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

size_t DisplayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return !IsContinuationByte(c); }));
}

std::string Truncate(std::string_view s, size_t width) {
  size_t columns = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsContinuationByte(s[i])) continue;
    if (columns == width) return std::string(s.substr(0, i));
    ++columns;
  }
  return std::string(s);
}

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - DisplayWidth(row[c]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string ProgressBar(int percent, int width) {
  percent = std::clamp(percent, 0, 100);
  int filled = percent * width / 100;
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(width - filled), '.') + "] " + std::to_string(percent) +
         "%";
}

std::string UsageBar(int64_t used, int64_t limit, int width) {
  int64_t filled = used > 0 ? width : 0;
  if (limit > 0 && used < limit) {
    filled = std::clamp<int64_t>(used * width / limit, 0, width - 1);
    if (used > 0 && filled == 0) filled = 1;  // something is used: show it
  }
  return "[" + std::string(static_cast<size_t>(filled), '#') +
         std::string(static_cast<size_t>(width - filled), '.') + "] " + std::to_string(used) + "/" +
         std::to_string(limit);
}

const char* StepGlyph(const std::string& state) {
  if (state == "succeeded") return "✓";
  if (state == "running") return "▶";
  if (state == "failed" || state == "cancelled") return "✗";
  return "·";
}

std::string RenderStep(const StepView& step) {
  std::string line = std::string(StepGlyph(step.state)) + " " + step.name;
  if (step.attempts > 1) line += " (attempt " + std::to_string(step.attempts) + ")";
  if (!step.message.empty()) line += ": " + step.message;
  return line;
}

std::vector<std::string> RenderOperation(const OperationView& op) {
  std::vector<std::string> lines;
  lines.push_back("operation " + op.id + " (" + op.type + "): " + op.state);
  for (const auto& s : op.steps) lines.push_back("  " + RenderStep(s));
  lines.push_back(ProgressBar(op.progress));
  return lines;
}

}  // namespace kaas::cli
