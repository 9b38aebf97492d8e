#include "net/send_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

namespace herald::net {
namespace {

class SendQueueTest : public ::testing::Test {
  protected:
    ~SendQueueTest() override { queue.clear(nodes); }

    // A block holding `text` (one reference, the caller's).
    core::Block* block(std::string_view text) {
        core::Block* b = pool.acquire(text.size());
        std::memcpy(b->data(), text.data(), text.size());
        b->size = static_cast<std::uint32_t>(text.size());
        return b;
    }

    static std::string bytes_of(const iovec& v) {
        return {static_cast<const char*>(v.iov_base), v.iov_len};
    }

    core::BlockPool pool;
    SendNodePool nodes;
    SendQueue queue;
};

TEST_F(SendQueueTest, GatherStartsAfterWhatAShortSendWrote) {
    queue.push(block("hello"), nodes);
    queue.push(block("world"), nodes);
    queue.consume(2, nodes);  // a short send wrote "he"
    iovec iov[4];
    std::size_t total = 0;
    ASSERT_EQ(queue.gather(iov, 4, total), 2u);
    EXPECT_EQ(bytes_of(iov[0]), "llo");
    EXPECT_EQ(bytes_of(iov[1]), "world");
    EXPECT_EQ(total, 8u);
    EXPECT_EQ(queue.bytes(), 8u);
}

TEST_F(SendQueueTest, GatherDescribesAtMostMaxFrames) {
    for (int i = 0; i < 5; ++i) queue.push(block("ab"), nodes);
    iovec iov[3];
    std::size_t total = 0;
    EXPECT_EQ(queue.gather(iov, 3, total), 3u);
    EXPECT_EQ(total, 6u);
}

TEST_F(SendQueueTest, ConsumeAcrossFramesReleasesTheWrittenOnes) {
    core::Block* first = block("abc");
    first->ref();  // the test's own reference, to watch the queue's go
    queue.push(first, nodes);
    queue.push(block("defg"), nodes);
    queue.consume(5, nodes);  // "abc" and "de"
    EXPECT_EQ(first->refs(), 1u);
    first->unref();
    iovec iov[2];
    std::size_t total = 0;
    ASSERT_EQ(queue.gather(iov, 2, total), 1u);
    EXPECT_EQ(bytes_of(iov[0]), "fg");
    EXPECT_EQ(queue.bytes(), 2u);
    queue.consume(2, nodes);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
}

TEST_F(SendQueueTest, TruncateKeepsTheFramesInFlight) {
    queue.push(block("one"), nodes);
    queue.push(block("two"), nodes);
    queue.push(block("three"), nodes);
    queue.consume(1, nodes);       // the send in flight (two frames) wrote "o" so far
    queue.truncate(2, nodes);      // "three" was not in it
    EXPECT_EQ(queue.bytes(), 5u);  // "ne" + "two"
    queue.push(block("four"), nodes);
    iovec iov[4];
    std::size_t total = 0;
    ASSERT_EQ(queue.gather(iov, 4, total), 3u);
    EXPECT_EQ(bytes_of(iov[0]), "ne");
    EXPECT_EQ(bytes_of(iov[1]), "two");
    EXPECT_EQ(bytes_of(iov[2]), "four");
}

TEST_F(SendQueueTest, TruncateToNothingForgetsAPartlyWrittenHead) {
    queue.push(block("abcdef"), nodes);
    queue.consume(3, nodes);
    queue.truncate(0, nodes);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    queue.push(block("xy"), nodes);
    iovec iov[1];
    std::size_t total = 0;
    ASSERT_EQ(queue.gather(iov, 1, total), 1u);
    EXPECT_EQ(bytes_of(iov[0]), "xy");  // no offset left over from the dropped head
}

TEST_F(SendQueueTest, ClearReleasesEveryReference) {
    core::Block* shared = block("frame");
    queue.push(shared, nodes);
    shared->ref();
    queue.push(shared, nodes);
    shared->ref();  // the test's own
    queue.clear(nodes);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.bytes(), 0u);
    EXPECT_EQ(shared->refs(), 1u);
    shared->unref();
}

// A burst's nodes are given back once no queue holds them, down to what the caller keeps for
// recent traffic; a chunk with a node still queued stays, and its nodes stay valid.
TEST_F(SendQueueTest, TrimFreesTheChunksNoQueueUses) {
    constexpr std::size_t kChunk = 4096;
    core::Block* b = block("x");
    for (std::size_t i = 0; i < 3 * kChunk; ++i) {  // three chunks' worth
        b->ref();
        queue.push(b, nodes);
    }
    EXPECT_EQ(nodes.bytes(), 3 * kChunk * sizeof(SendNode));
    EXPECT_EQ(nodes.peak(), 3 * kChunk);
    nodes.trim(0);  // every node is queued: nothing to free
    EXPECT_EQ(nodes.bytes(), 3 * kChunk * sizeof(SendNode));

    queue.consume(3 * kChunk - 1, nodes);  // one frame stays queued
    nodes.trim(2 * kChunk);                // recent traffic needed two chunks
    EXPECT_EQ(nodes.bytes(), 2 * kChunk * sizeof(SendNode));
    nodes.trim(0);
    EXPECT_EQ(nodes.bytes(), kChunk * sizeof(SendNode));
    iovec iov[2];
    std::size_t total = 0;
    ASSERT_EQ(queue.gather(iov, 2, total), 1u);
    EXPECT_EQ(bytes_of(iov[0]), "x");
    queue.push(block("y"), nodes);  // the kept chunk's free nodes are usable
    EXPECT_EQ(nodes.bytes(), kChunk * sizeof(SendNode));
    EXPECT_EQ(nodes.take_peak(), 3 * kChunk);
    EXPECT_EQ(nodes.peak(), 2u);  // a new period starts from the nodes out now
    queue.clear(nodes);
    nodes.trim(0);
    EXPECT_EQ(nodes.bytes(), 0u);
    queue.push(block("z"), nodes);  // and the pool grows again after a full trim
    EXPECT_EQ(nodes.bytes(), kChunk * sizeof(SendNode));
    b->unref();
}

}  // namespace
}  // namespace herald::net
