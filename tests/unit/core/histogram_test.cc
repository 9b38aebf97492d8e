#include "core/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace herald::core {
namespace {

TEST(Histogram, SmallValuesAreExact) {
    Histogram h;
    for (int v = 0; v < 100; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.percentile(50), 49);
    EXPECT_EQ(h.percentile(100), 99);
    EXPECT_EQ(h.min(), 0);
    EXPECT_EQ(h.max(), 99);
    EXPECT_DOUBLE_EQ(h.mean(), 49.5);
}

TEST(Histogram, EveryBucketTopIsAtLeastItsValuesAndWithinOneSixtyFourth) {
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100000; ++i) {
        const auto v = static_cast<std::int64_t>(rng() >> (1 + rng() % 63));
        const std::int64_t top = Histogram::bucket_top(Histogram::bucket_of(v));
        ASSERT_GE(top, v);
        ASSERT_LE(static_cast<double>(top - v), static_cast<double>(v) / 64.0 + 1) << v;
    }
}

TEST(Histogram, PercentilesMatchASortedReference) {
    std::mt19937 rng(7);
    std::lognormal_distribution<double> latency(11.0, 1.0);  // ~60 us median, long tail
    std::vector<std::int64_t> values;
    Histogram h;
    for (int i = 0; i < 200000; ++i) {
        const auto v = static_cast<std::int64_t>(latency(rng));
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99}) {
        const auto rank =
            static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size()))) - 1;
        const std::int64_t exact = values[rank];
        const std::int64_t got = h.percentile(p);
        EXPECT_GE(got, exact) << p;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 64) + 1) << p;
    }
    EXPECT_EQ(h.percentile(100), values.back());
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
    Histogram a;
    Histogram b;
    Histogram all;
    for (int i = 0; i < 1000; ++i) {
        (i % 2 ? a : b).record(i * 37);
        all.record(i * 37);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    for (double p : {1.0, 50.0, 99.0, 100.0}) EXPECT_EQ(a.percentile(p), all.percentile(p));
    EXPECT_EQ(a.max(), all.max());
    EXPECT_EQ(a.min(), all.min());
}

TEST(Histogram, SpectrumRisesToTheMaximum) {
    Histogram h;
    for (int i = 1; i <= 1000; ++i) h.record(i * 1000);
    const auto s = h.spectrum();
    ASSERT_GE(s.size(), 10u);
    EXPECT_EQ(s.front().percentile, 0.0);
    EXPECT_EQ(s.back().percentile, 100.0);
    EXPECT_EQ(s.back().value, 1000000);
    for (std::size_t i = 1; i < s.size(); ++i) EXPECT_GE(s[i].value, s[i - 1].value);
}

}  // namespace
}  // namespace herald::core
