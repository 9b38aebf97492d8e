// Monotonic time in nanoseconds, the one clock every herald component measures with.
#pragma once

#include <cstdint>
#include <ctime>

namespace herald::core {

using Nanos = std::int64_t;

constexpr Nanos kMicrosecond = 1'000;
constexpr Nanos kMillisecond = 1'000'000;
constexpr Nanos kSecond = 1'000'000'000;

// CLOCK_MONOTONIC now. Through the vDSO: no syscall.
inline Nanos now_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

// CLOCK_REALTIME now: for timestamps that cross processes or hosts.
inline Nanos wall_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kSecond + ts.tv_nsec;
}

}  // namespace herald::core
