#include "core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace herald::core {

unsigned Histogram::bucket_of(std::int64_t value) noexcept {
    const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(value, 0));
    if (v < 2 * kSub) return static_cast<unsigned>(v);                      // exact below 128
    const unsigned top = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits + 1
    const unsigned shift = top - kSubBits;
    const auto sub = static_cast<unsigned>((v >> shift) & (kSub - 1));
    return (shift + 1) * kSub + sub;
}

std::int64_t Histogram::bucket_top(unsigned bucket) noexcept {
    if (bucket < 2 * kSub) return bucket;
    const unsigned shift = bucket / kSub - 1;
    const std::uint64_t sub = bucket % kSub;
    const std::uint64_t low = (std::uint64_t{kSub} + sub) << shift;
    return static_cast<std::int64_t>(low + ((std::uint64_t{1} << shift) - 1));
}

void Histogram::record_n(std::int64_t value, std::uint64_t n) noexcept {
    if (n == 0) return;
    value = std::max<std::int64_t>(value, 0);
    counts_[bucket_of(value)] += n;
    count_ += n;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
    sum_ += static_cast<double>(value) * static_cast<double>(n);
}

void Histogram::merge(const Histogram& other) noexcept {
    for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
}

void Histogram::reset() noexcept { *this = Histogram(); }

std::int64_t Histogram::percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    const double rank_d =
        std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(count_));
    const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(rank_d));
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::min(bucket_top(i), max_);
    }
    return max_;
}

std::vector<Histogram::Point> Histogram::spectrum() const {
    std::vector<Point> out;
    double p = 0;
    double step = 50;
    while (p < 99.9999) {
        out.push_back({p, percentile(p)});
        p += step;
        step /= 2;
    }
    out.push_back({100.0, max()});
    return out;
}

}  // namespace herald::core
