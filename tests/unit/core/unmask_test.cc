#include "core/unmask.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace herald::core {
namespace {

constexpr std::uint8_t kKey[4] = {0x37, 0xFA, 0x21, 0x3D};

std::vector<std::uint8_t> random_bytes(std::size_t n, std::mt19937& rng) {
    std::vector<std::uint8_t> v(n);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng());
    return v;
}

TEST(Unmask, WordVersionEqualsBytewiseForEveryLengthPhaseAndAlignment) {
    std::mt19937 rng(1);
    for (std::size_t align = 0; align < 8; ++align) {
        for (std::size_t n = 0; n <= 300; ++n) {
            for (std::size_t phase = 0; phase < 4; ++phase) {
                auto data = random_bytes(n + align + 8, rng);  // 8 guard bytes after
                auto expected = data;
                const std::size_t p1 = unmask(data.data() + align, n, kKey, phase);
                const std::size_t p2 = unmask_bytewise(expected.data() + align, n, kKey, phase);
                ASSERT_EQ(data, expected) << "n=" << n << " phase=" << phase << " align=" << align;
                ASSERT_EQ(p1, p2);
                ASSERT_EQ(p1, (phase + n) % 4);
            }
        }
    }
}

TEST(Unmask, InPiecesEqualsWholeAndReturnsTheNextPhase) {
    std::mt19937 rng(2);
    for (int round = 0; round < 2000; ++round) {
        const std::size_t n = rng() % 2000;
        const std::size_t start_phase = rng() % 4;
        const std::size_t align = rng() % 8;
        auto whole = random_bytes(n + align, rng);
        auto pieces = whole;
        const std::size_t end_phase = unmask(whole.data() + align, n, kKey, start_phase);
        std::size_t at = 0;
        std::size_t phase = start_phase;
        while (at < n) {
            const std::size_t take = std::min<std::size_t>(1 + rng() % 70, n - at);
            phase = unmask(pieces.data() + align + at, take, kKey, phase);
            at += take;
            ASSERT_EQ(phase, (start_phase + at) % 4);
        }
        ASSERT_EQ(whole, pieces) << "round " << round;
        ASSERT_EQ(phase, end_phase);
    }
}

TEST(Unmask, TwiceRestoresTheInputAtEveryPhaseAndAlignment) {
    std::mt19937 rng(3);
    for (std::size_t align = 0; align < 8; ++align) {
        for (std::size_t phase = 0; phase < 4; ++phase) {
            auto data = random_bytes(1000 + align, rng);
            const auto original = data;
            unmask(data.data() + align, 1000, kKey, phase);
            EXPECT_NE(data, original);
            EXPECT_TRUE(
                std::equal(data.begin(), data.begin() + static_cast<long>(align), original.begin()))
                << "bytes before the range are untouched";
            unmask(data.data() + align, 1000, kKey, phase);
            EXPECT_EQ(data, original) << "align " << align << " phase " << phase;
        }
    }
}

TEST(UnmaskAscii, UnmasksLikeUnmaskAndFindsANonAsciiByteAnywhere) {
    std::mt19937 rng(4);
    for (std::size_t align = 0; align < 8; ++align) {
        for (std::size_t n = 0; n <= 300; ++n) {
            const std::size_t phase = (n + align) % 4;
            // ASCII once unmasked, except (when high < n) the byte at `high`.
            for (std::size_t high : {n, std::size_t{0}, n / 2, n == 0 ? 0 : n - 1}) {
                std::vector<std::uint8_t> plain(n + align + 8);
                for (auto& b : plain) b = static_cast<std::uint8_t>(rng() & 0x7F);
                if (high < n) plain[align + high] |= 0x80;
                auto data = plain;
                unmask_bytewise(data.data() + align, n, kKey, phase);  // mask it
                const bool ascii = unmask_ascii(data.data() + align, n, kKey, phase);
                ASSERT_EQ(data, plain) << "n=" << n << " align=" << align;
                ASSERT_EQ(ascii, high >= n) << "n=" << n << " high=" << high;
            }
        }
    }
}

TEST(UnmaskAscii, IgnoresHighBytesOutsideTheRange) {
    std::uint8_t data[48];
    for (auto& b : data) b = 0xFF;
    for (std::size_t i = 8; i < 40; ++i) {
        data[i] = static_cast<std::uint8_t>(kKey[(i - 8) & 3] ^ 'a');  // masked ASCII
    }
    EXPECT_TRUE(unmask_ascii(data + 8, 32, kKey));
    EXPECT_EQ(data[7], 0xFF);
    EXPECT_EQ(data[40], 0xFF);
}

TEST(Unmask, Rfc6455ExampleUnmasksToHello) {
    // RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d.
    std::uint8_t payload[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
    unmask(payload, sizeof payload, kKey);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(payload), 5), "Hello");
}

}  // namespace
}  // namespace herald::core
