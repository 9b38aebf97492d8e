#include <gtest/gtest.h>

#include <cstring>

#include "core/block.h"

namespace herald::core {
namespace {

TEST(BlockPool, AcquireGivesAtLeastTheCapacityAsked) {
    BlockPool pool;
    for (std::size_t cap : {0u, 1u, 31u, 32u, 1000u, 65536u, 5u << 20}) {
        Block* b = pool.acquire(cap);
        EXPECT_GE(b->capacity(), cap);
        EXPECT_EQ(b->refs(), 1u);
        std::memset(b->data(), 0xAB, b->capacity() + Block::kPadding);  // ASan checks the bounds
        b->unref();
    }
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(BlockPool, ReusesFreedBlocksWithoutAllocating) {
    BlockPool pool;
    Block* a = pool.acquire(100);
    a->unref();
    const auto mallocs = pool.stats().mallocs;
    Block* b = pool.acquire(90);
    EXPECT_EQ(a, b);
    EXPECT_EQ(pool.stats().mallocs, mallocs);
    b->unref();
}

TEST(BlockPool, LastReferenceReturnsTheBlock) {
    BlockPool pool;
    Block* b = pool.acquire(10);
    b->ref();
    EXPECT_EQ(b->refs(), 2u);
    b->unref();
    EXPECT_EQ(pool.stats().live_blocks, 1u);
    b->unref();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

TEST(BlockPool, GrowKeepsTheBytes) {
    BlockPool pool;
    Block* b = pool.acquire(10);
    std::memcpy(b->data(), "hello", 5);
    b->size = 5;
    Block* g = pool.grow(b, 100000, 5);
    EXPECT_GE(g->capacity(), 100000u);
    EXPECT_EQ(std::memcmp(g->data(), "hello", 5), 0);
    EXPECT_EQ(g->size, 5u);
    g->unref();
    EXPECT_EQ(pool.stats().live_blocks, 0u);
}

// Hooks stand for registered fixed buffers: trim_unhooked() leaves their cached blocks alone.
TEST(BlockPool, TrimUnhookedKeepsTheBlocksHooksWatch) {
    struct Counting final : BlockHooks {
        void allocated(Block*, std::size_t) noexcept override { ++live; }
        void freeing(Block*) noexcept override { --live; }
        int live = 0;
    } hooks;
    BlockPool pool;
    pool.set_hooks(&hooks, 16384);
    Block* small = pool.acquire(100);
    Block* large = pool.acquire(20000);
    small->unref();
    large->unref();
    EXPECT_EQ(hooks.live, 1);
    const auto large_bytes = pool.stats().cached_bytes;
    pool.trim_unhooked();
    EXPECT_EQ(hooks.live, 1);  // the large block is still cached (and registered)
    EXPECT_LT(pool.stats().cached_bytes, large_bytes);
    EXPECT_GE(pool.stats().cached_bytes, 20000u);
    pool.trim();
    EXPECT_EQ(hooks.live, 0);
    EXPECT_EQ(pool.stats().cached_bytes, 0u);

    pool.set_hooks(nullptr, 0);  // no hooks: everything cached goes
    pool.acquire(20000)->unref();
    pool.trim_unhooked();
    EXPECT_EQ(pool.stats().cached_bytes, 0u);
}

TEST(BlockPool, CacheIsBoundedPerClass) {
    BlockPool pool(4096);
    std::vector<Block*> blocks;
    for (int i = 0; i < 100; ++i) blocks.push_back(pool.acquire(1000));
    for (Block* b : blocks) b->unref();
    EXPECT_LE(pool.stats().cached_bytes, 4096u);
}

}  // namespace
}  // namespace herald::core
