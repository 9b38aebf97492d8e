// A rate limit for a repeated log line: at most one line per interval, and the line that is
// written says how many were held back since the previous one. Allocation-free, one per call
// site (no I/O here: the caller writes the line).
#pragma once

#include <cstdint>

#include "core/clock.h"

namespace herald::core {

class LogLimiter {
  public:
    // interval: the least time between two lines written (ns, > 0).
    explicit constexpr LogLimiter(Nanos interval) noexcept : interval_(interval) {}

    // Whether the line due at `now` (monotonic ns) may be written. When it may, suppressed()
    // is the number of lines refused since the last one written; when it may not, the line is
    // counted for the next one.
    bool allow(Nanos now) noexcept {
        if (written_ && now - last_ < interval_) {
            ++pending_;
            return false;
        }
        written_ = true;
        last_ = now;
        suppressed_ = pending_;
        pending_ = 0;
        return true;
    }

    // Lines refused before the line allow() last let through.
    std::uint64_t suppressed() const noexcept { return suppressed_; }
    // Lines refused since then (they will be reported by the next line written).
    std::uint64_t pending() const noexcept { return pending_; }

  private:
    Nanos interval_;
    Nanos last_ = 0;
    bool written_ = false;
    std::uint64_t pending_ = 0;
    std::uint64_t suppressed_ = 0;
};

}  // namespace herald::core
