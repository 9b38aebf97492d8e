// A log-linear histogram of non-negative values (latencies in nanoseconds): fixed memory,
// O(1) record, percentiles within 1/64 (1.6 %) of the true value, mergeable.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace herald::core {

// Values below 128 are exact; above, each power of two is split into 64 equal sub-buckets, so a
// reported percentile is at most 1/64 above the recorded value it stands for. Covers up to
// 2^63 - 1.
class Histogram {
  public:
    static constexpr unsigned kSubBits = 6;  // 64 sub-buckets per power of two
    static constexpr unsigned kSub = 1u << kSubBits;
    static constexpr unsigned kBuckets = (64 - kSubBits) * kSub + 2 * kSub;

    void record(std::int64_t value) noexcept { record_n(value, 1); }
    void record_n(std::int64_t value, std::uint64_t n) noexcept;
    void merge(const Histogram& other) noexcept;
    void reset() noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::int64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::int64_t max() const noexcept { return max_; }
    double mean() const noexcept {
        return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }

    // The value at percentile p (0..100): the upper edge of the bucket holding the
    // ceil(p/100 * count)-th smallest value, capped at max(). 0 when empty.
    std::int64_t percentile(double p) const noexcept;

    struct Point {
        double percentile;
        std::int64_t value;
    };
    // The percentile spectrum for plots: 0, 50, 75, 87.5, ... (halving the distance to 100)
    // up to 99.9999, then 100.
    std::vector<Point> spectrum() const;

    static unsigned bucket_of(std::int64_t value) noexcept;
    static std::int64_t bucket_top(unsigned bucket) noexcept;  // largest value in the bucket

  private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::int64_t min_ = INT64_MAX;
    std::int64_t max_ = 0;
    double sum_ = 0;  // for the mean: exact enough, and no overflow
};

}  // namespace herald::core
