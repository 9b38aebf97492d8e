// Invariant checks: HERALD_ASSERT holds in every build, HERALD_DCHECK only in debug builds.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace herald::core {

[[noreturn]] inline void assert_failed(const char* expr, const char* file, int line) noexcept {
    std::fprintf(stderr, "herald: invariant violated: %s at %s:%d\n", expr, file, line);
    std::abort();
}

}  // namespace herald::core

#define HERALD_ASSERT(expr) \
    ((expr) ? static_cast<void>(0) : ::herald::core::assert_failed(#expr, __FILE__, __LINE__))

#ifdef NDEBUG
#define HERALD_DCHECK(expr) static_cast<void>(0)
#else
#define HERALD_DCHECK(expr) HERALD_ASSERT(expr)
#endif

#define HERALD_LIKELY(x) __builtin_expect(!!(x), 1)
#define HERALD_UNLIKELY(x) __builtin_expect(!!(x), 0)
