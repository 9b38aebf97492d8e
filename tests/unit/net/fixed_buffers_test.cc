// The block pool's hooks and FixedBuffers on a real io_uring: large blocks get a fixed-buffer
// slot when the pool allocates them, keep it while cached and reused, and lose it before the
// pool frees them; small blocks are never registered.
#include "net/fixed_buffers.h"

#include <gtest/gtest.h>

namespace herald::net {
namespace {

constexpr std::size_t kLarge = 16 * 1024;

class FixedBuffersTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(uring.init(UringConfig{.entries = 8}));
        int error = 0;
        ASSERT_TRUE(fixed.init(4, error)) << error;
        pool.set_hooks(&fixed, kLarge);
    }
    void TearDown() override { pool.set_hooks(nullptr, 0); }

    Uring uring;
    FixedBuffers fixed{uring};
    // Caches at most one block per class, so a second free goes back to malloc.
    core::BlockPool pool{1};
};

TEST_F(FixedBuffersTest, LargeBlocksAreRegisteredSmallOnesNot) {
    core::Block* small = pool.acquire(1024);
    core::Block* large = pool.acquire(kLarge);
    EXPECT_EQ(fixed.index(small), -1);
    EXPECT_GE(fixed.index(large), 0);
    EXPECT_EQ(fixed.registered(), 1u);
    small->unref();
    large->unref();
}

TEST_F(FixedBuffersTest, CachedBlockKeepsItsSlotAndFreedBlockLosesIt) {
    core::Block* a = pool.acquire(kLarge);
    const int slot = fixed.index(a);
    ASSERT_GE(slot, 0);
    a->unref();  // cached: still registered
    EXPECT_EQ(fixed.registered(), 1u);
    core::Block* again = pool.acquire(kLarge);
    EXPECT_EQ(again, a);
    EXPECT_EQ(fixed.index(again), slot);
    again->unref();
    pool.trim();  // freed: the slot is cleared and free again
    EXPECT_EQ(fixed.registered(), 0u);
}

TEST_F(FixedBuffersTest, BeyondTheTableBlocksHaveNoSlot) {
    core::Block* blocks[5];
    for (core::Block*& b : blocks) b = pool.acquire(kLarge);
    int with_slot = 0;
    for (core::Block* b : blocks) with_slot += fixed.index(b) >= 0 ? 1 : 0;
    EXPECT_EQ(with_slot, 4);
    EXPECT_EQ(fixed.refused(), 1u);
    for (core::Block* b : blocks) b->unref();  // one cached, four freed
    EXPECT_LE(fixed.registered(), 1u);
    pool.trim();
    EXPECT_EQ(fixed.registered(), 0u);
}

}  // namespace
}  // namespace herald::net
