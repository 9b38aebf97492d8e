// core/log_limiter: one line per interval, with the count of the lines held back.
#include "core/log_limiter.h"

#include <gtest/gtest.h>

namespace herald::core {
namespace {

TEST(LogLimiter, LetsTheFirstLineThrough) {
    LogLimiter limit(kSecond);
    EXPECT_TRUE(limit.allow(5 * kSecond));
    EXPECT_EQ(limit.suppressed(), 0u);
}

TEST(LogLimiter, HoldsBackLinesWithinTheIntervalAndCountsThem) {
    LogLimiter limit(kSecond);
    ASSERT_TRUE(limit.allow(0));
    for (int i = 1; i <= 71; ++i) EXPECT_FALSE(limit.allow(i * 10 * kMillisecond));
    EXPECT_EQ(limit.pending(), 71u);
    ASSERT_TRUE(limit.allow(kSecond));
    EXPECT_EQ(limit.suppressed(), 71u);
    EXPECT_EQ(limit.pending(), 0u);
}

TEST(LogLimiter, ReportsNothingSuppressedAfterAQuietInterval) {
    LogLimiter limit(kSecond);
    ASSERT_TRUE(limit.allow(0));
    EXPECT_FALSE(limit.allow(kMillisecond));
    ASSERT_TRUE(limit.allow(2 * kSecond));
    EXPECT_EQ(limit.suppressed(), 1u);
    ASSERT_TRUE(limit.allow(10 * kSecond));
    EXPECT_EQ(limit.suppressed(), 0u);
}

TEST(LogLimiter, AllowsAtMostOneLinePerInterval) {
    LogLimiter limit(100 * kMillisecond);
    int written = 0;
    for (Nanos t = 0; t < kSecond; t += kMillisecond) written += limit.allow(t) ? 1 : 0;
    EXPECT_EQ(written, 10);
}

}  // namespace
}  // namespace herald::core
