#include "core/slab.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::core {
namespace {

TEST(Slab, FindRejectsAStaleGeneration) {
    Slab<std::string, 4> slab(10);
    const std::uint32_t i = slab.emplace("a");
    const std::uint32_t gen = slab.generation(i);
    ASSERT_NE(slab.find(i, gen), nullptr);
    slab.erase(i);
    EXPECT_EQ(slab.find(i, gen), nullptr);
    const std::uint32_t j = slab.emplace("b");
    EXPECT_EQ(i, j);  // most recently freed first
    EXPECT_EQ(slab.find(j, gen), nullptr);
    EXPECT_EQ(*slab.find(j, slab.generation(j)), "b");
}

TEST(Slab, RefusesBeyondCapacityAndKeepsAddressesStable) {
    using SmallSlab = Slab<int, 2>;
    SmallSlab slab(5);
    int* first = nullptr;
    for (int k = 0; k < 5; ++k) {
        const std::uint32_t i = slab.emplace(k);
        ASSERT_NE(i, SmallSlab::kFull);
        if (k == 0) first = &slab[i];
    }
    EXPECT_EQ(slab.emplace(9), SmallSlab::kFull);
    EXPECT_EQ(*first, 0);
    EXPECT_EQ(slab.size(), 5u);
}

// The generation (24 bits, beside the liveness bit) wraps to 0 and still tells lifetimes apart.
TEST(Slab, GenerationWrapsWithinItsBits) {
    using TinySlab = Slab<int, 4>;
    TinySlab slab(1);
    std::uint32_t i = slab.emplace(0);
    for (std::uint32_t k = 0; k < TinySlab::kGenerationMask; ++k) {
        slab.erase(i);
        i = slab.emplace(0);
    }
    EXPECT_EQ(slab.generation(i), TinySlab::kGenerationMask);
    slab.erase(i);
    EXPECT_FALSE(slab.live(i));
    EXPECT_EQ(slab.find(i, TinySlab::kGenerationMask), nullptr);
    i = slab.emplace(7);
    EXPECT_EQ(slab.generation(i), 0u);
    ASSERT_NE(slab.find(i, 0), nullptr);
    EXPECT_EQ(*slab.find(i, 0), 7);
    EXPECT_EQ(slab.find(i, TinySlab::kGenerationMask), nullptr);
}

}  // namespace
}  // namespace herald::core
