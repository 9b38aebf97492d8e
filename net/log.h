// herald's log lines: one line per event on stderr, with a level and key=value fields, e.g.
//   herald: level=warn event=accept_paused reason="Too many open files" suppressed=71
// and a process-wide threshold (--log-level). It lives in net (not core, which does no I/O) so
// that the worker loop, the hub (channel) and the processes (tools) share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace herald::net {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error".
const char* log_level_name(LogLevel level) noexcept;
// The level named by `text` (as log_level_name writes it), or nothing.
std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;

// The process's threshold: lines below it are not written (default kInfo).
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
inline bool log_enabled(LogLevel level) noexcept { return level >= log_level(); }

// Writes "herald: level=LEVEL event=EVENT FIELDS\n" to stderr in one write(2) when `level` is
// at or above the threshold. `fields` is a printf format for the key=value fields (quote values
// that may hold spaces: reason=\"%s\"); "" for none. Allocation-free (a 1 KiB line on the stack,
// truncated beyond); safe from any thread, not from a signal handler.
void log_event(LogLevel level, const char* event, const char* fields, ...) noexcept
    __attribute__((format(printf, 3, 4)));

}  // namespace herald::net
