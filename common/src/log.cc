#include "kaas/common/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

#include "kaas/common/clock.h"

namespace kaas::log {
namespace {

std::atomic<bool> g_enabled{true};

spdlog::logger& Logger() {
  static auto logger = [] {
    auto l = spdlog::stdout_logger_mt("kaas");
    l->set_pattern("%v");
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return *logger;
}

void Write(spdlog::level::level_enum level, std::string_view msg, Fields fields) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  std::string line = "{\"ts\":\"" + FormatTime(SystemClock::Instance().NowMs()) +
                     "\",\"level\":\"" + std::string(spdlog::level::to_string_view(level).data()) +
                     "\",\"msg\":\"" + JsonEscape(msg) + "\"";
  for (const auto& [k, v] : fields) {
    line += ",\"" + JsonEscape(k) + "\":\"" + JsonEscape(v) + "\"";
  }
  line += "}";
  Logger().log(level, line);
}

}  // namespace

void Info(std::string_view msg, Fields fields) { Write(spdlog::level::info, msg, fields); }
void Warn(std::string_view msg, Fields fields) { Write(spdlog::level::warn, msg, fields); }
void Error(std::string_view msg, Fields fields) { Write(spdlog::level::err, msg, fields); }
void SetEnabled(bool enabled) { g_enabled = enabled; }

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

}  // namespace kaas::log
