#include "net/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace herald::net {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

constexpr const char* kNames[] = {"debug", "info", "warn", "error"};

}  // namespace

const char* log_level_name(LogLevel level) noexcept {
    return kNames[static_cast<std::size_t>(level)];
}

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
    for (std::size_t i = 0; i < std::size(kNames); ++i) {
        if (text == kNames[i]) return static_cast<LogLevel>(i);
    }
    return std::nullopt;
}

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }

LogLevel log_level() noexcept { return g_level.load(std::memory_order_relaxed); }

void log_event(LogLevel level, const char* event, const char* fields, ...) noexcept {
    if (!log_enabled(level)) return;
    char line[1024];
    int n =
        std::snprintf(line, sizeof line, "herald: level=%s event=%s", log_level_name(level), event);
    if (n < 0) return;
    auto used = static_cast<std::size_t>(n);
    if (fields[0] != '\0' && used + 1 < sizeof line) {
        line[used++] = ' ';
        va_list args;
        va_start(args, fields);
        const int m = std::vsnprintf(line + used, sizeof line - used, fields, args);
        va_end(args);
        if (m > 0) used += static_cast<std::size_t>(m);
    }
    if (used >= sizeof line - 1) used = sizeof line - 2;
    line[used++] = '\n';
    std::fflush(stderr);  // keep order with lines printed through stdio
    (void)!write(STDERR_FILENO, line, used);
}

}  // namespace herald::net
