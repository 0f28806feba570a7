#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kaas::cli {

// Terminal columns taken by UTF-8 text: one per code point, which holds for the ASCII, ✓, ▶
// and × this CLI prints.
size_t DisplayWidth(std::string_view s);

// Cuts `s` to at most `width` columns, never inside a UTF-8 sequence.
std::string Truncate(std::string_view s, size_t width);

// Left-aligned columns three spaces apart; rows[0] is the header. Each line ends in '\n'.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

// "[#####.....] 50%" with `width` cells; percent is clamped to 0..100.
std::string ProgressBar(int percent, int width = 10);

// "[#######.....] 40/64": how much of `limit` `used` takes, in `width` cells. Any use shows
// at least one cell; the bar is full only at or beyond the limit.
std::string UsageBar(int64_t used, int64_t limit, int width = 12);

struct StepView {
  std::string name;
  std::string state;  // pending | running | succeeded | failed | cancelled
  std::string message;
  int attempts = 0;
};

struct OperationView {
  std::string id;
  std::string type;
  std::string state;
  std::string error;
  int progress = 0;
  std::vector<StepView> steps;
};

// ✓ succeeded, ▶ running, ✗ failed or cancelled, · anything else (pending).
const char* StepGlyph(const std::string& state);

// "✓ provision masters", with " (attempt N)" from the second attempt on and ": message".
std::string RenderStep(const StepView& step);

// The full picture --watch redraws: a header line, one line per step, the progress bar.
std::vector<std::string> RenderOperation(const OperationView& op);

}  // namespace kaas::cli
