// The send path on a real io_uring and a socketpair: what is queued, when a send starts, what a
// completion does to the queue.
#include "net/outbox.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace herald::net {
namespace {

class OutboxTest : public ::testing::Test {
  protected:
    static constexpr std::uint64_t kBound = 100;  // --max-backpressure

    void SetUp() override {
        ASSERT_TRUE(uring.init(UringConfig{.entries = 64}));
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        slot = conns.emplace();
        conns[slot].fd = fds[0];
        conns[slot].state = ConnState::kOpen;
    }
    void TearDown() override {
        outbox.clear(conns[slot]);
        close(fds[0]);
        if (fds[1] >= 0) close(fds[1]);
    }

    ConnRef c() { return {conns[slot], slot}; }

    // A block holding `text` (one reference, the caller's).
    core::Block* frame(std::string_view text) {
        core::Block* b = pool.acquire(text.size());
        std::memcpy(b->data(), text.data(), text.size());
        b->size = static_cast<std::uint32_t>(text.size());
        return b;
    }
    SendStatus enqueue(std::string_view text) {
        core::Block* b = frame(text);
        const SendStatus status = outbox.enqueue(c(), b);
        b->unref();
        return status;
    }

    // Submits and returns the result of the one send completion.
    int complete_send() {
        EXPECT_GE(io_uring_submit_and_wait(uring.ring(), 1), 0);
        io_uring_cqe* cqe = nullptr;
        EXPECT_EQ(io_uring_wait_cqe(uring.ring(), &cqe), 0);
        EXPECT_EQ(op_of(cqe->user_data), Op::kSend);
        EXPECT_EQ(index_of(cqe->user_data), slot);
        const int res = cqe->res;
        io_uring_cqe_seen(uring.ring(), cqe);
        return res;
    }

    // Reads exactly n bytes from the peer's end.
    std::string peer_read(std::size_t n) {
        std::string got(n, '\0');
        std::size_t have = 0;
        while (have < n) {
            const ssize_t r = read(fds[1], got.data() + have, n - have);
            if (r <= 0) break;
            have += static_cast<std::size_t>(r);
        }
        got.resize(have);
        return got;
    }

    Uring uring;
    core::BlockPool pool;
    core::Slab<Connection> conns{16};
    ConnOps ops{uring, conns};
    Outbox outbox{ops, conns, kBound};
    int fds[2] = {-1, -1};
    std::uint32_t slot = 0;
};

TEST_F(OutboxTest, EnqueueAnswersBackpressureBeyondTheBound) {
    EXPECT_EQ(enqueue(std::string(80, 'a')), SendStatus::kQueued);
    EXPECT_EQ(enqueue(std::string(21, 'b')), SendStatus::kBackpressure);  // 101 > 100
    EXPECT_EQ(enqueue(std::string(20, 'c')), SendStatus::kQueued);        // 100: at the bound
    EXPECT_EQ(conns[slot].out.bytes(), 100u);
}

TEST_F(OutboxTest, AFrameAlwaysFitsAnEmptyQueue) {
    EXPECT_EQ(enqueue(std::string(2 * kBound, 'a')), SendStatus::kQueued);
    EXPECT_EQ(enqueue("b"), SendStatus::kBackpressure);
}

TEST_F(OutboxTest, EnqueueRefusesAConnectionThatIsNoLongerOpen) {
    conns[slot].state = ConnState::kClosing;
    EXPECT_EQ(enqueue("late"), SendStatus::kClosing);
    EXPECT_TRUE(conns[slot].out.empty());
}

TEST_F(OutboxTest, NothingIsSentBeforeFlush) {
    ASSERT_EQ(enqueue("a"), SendStatus::kQueued);
    EXPECT_EQ(conns[slot].ops, 0);
    outbox.flush();
    EXPECT_EQ(conns[slot].ops, 1);
    EXPECT_TRUE(conns[slot].send_busy);
    EXPECT_EQ(complete_send(), 1);
}

TEST_F(OutboxTest, AtMostOneSendIsInFlightPerConnection) {
    ASSERT_EQ(enqueue("first"), SendStatus::kQueued);
    outbox.flush();
    ASSERT_EQ(enqueue("second"), SendStatus::kQueued);
    outbox.flush();  // the connection is busy: no second send
    EXPECT_EQ(conns[slot].ops, 1);
    EXPECT_EQ(conns[slot].inflight_frames, 1);
    EXPECT_EQ(complete_send(), 5);
    EXPECT_EQ(conns[slot].ops, 1);  // the completion is not yet handled
    EXPECT_EQ(outbox.on_sent(c(), 5), SendDone::kPending);
    EXPECT_EQ(conns[slot].ops, 0);
    outbox.flush();
    EXPECT_EQ(conns[slot].ops, 1);
    EXPECT_EQ(complete_send(), 6);
    EXPECT_EQ(outbox.on_sent(c(), 6), SendDone::kDrained);
    EXPECT_EQ(peer_read(11), "firstsecond");
}

TEST_F(OutboxTest, FramesQueuedDuringASendLeaveTogetherInTheNextOne) {
    ASSERT_EQ(enqueue("A"), SendStatus::kQueued);
    outbox.flush();
    ASSERT_EQ(enqueue("BB"), SendStatus::kQueued);
    ASSERT_EQ(enqueue("CCC"), SendStatus::kQueued);
    outbox.flush();
    ASSERT_EQ(outbox.on_sent(c(), complete_send()), SendDone::kPending);
    outbox.flush();
    EXPECT_EQ(conns[slot].inflight_frames, 2);  // one sendmsg for both
    EXPECT_EQ(complete_send(), 5);
    EXPECT_EQ(outbox.on_sent(c(), 5), SendDone::kDrained);
    EXPECT_TRUE(Outbox::drained(conns[slot]));
    EXPECT_EQ(peer_read(6), "ABBCCC");
}

// A completion for fewer bytes than were asked for (a short write): the rest is sent again
// from where the write stopped.
TEST_F(OutboxTest, AShortWriteIsResumedWhereItStopped) {
    ASSERT_EQ(enqueue("0123456789"), SendStatus::kQueued);
    outbox.flush();
    ASSERT_EQ(complete_send(), 10);
    EXPECT_EQ(outbox.on_sent(c(), 4), SendDone::kPending);  // report only "0123" written
    EXPECT_EQ(conns[slot].out.bytes(), 6u);
    outbox.flush();
    EXPECT_EQ(complete_send(), 6);
    EXPECT_EQ(outbox.on_sent(c(), 6), SendDone::kDrained);
    EXPECT_EQ(peer_read(16), "0123456789456789");
}

// MSG_WAITALL: io_uring keeps writing a frame far larger than the socket buffer until it is all
// out, and completes once, with the whole length.
TEST_F(OutboxTest, MsgWaitAllCompletesALargeFrameInOneCompletion) {
    const int small = 4096;
    ASSERT_EQ(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    const std::string big(1 << 20, 'x');
    core::Block* b = frame(big);
    outbox.push(c(), b);  // past the bound: the loop's own frames are not bounded
    outbox.flush();
    std::string got;
    std::thread reader([&] { got = peer_read(big.size()); });
    const int res = complete_send();
    reader.join();
    EXPECT_EQ(res, static_cast<int>(big.size()));
    EXPECT_EQ(outbox.on_sent(c(), res), SendDone::kDrained);
    EXPECT_EQ(got, big);
}

TEST_F(OutboxTest, ASendToAGonePeerFails) {
    close(fds[1]);
    fds[1] = -1;
    ASSERT_EQ(enqueue("lost"), SendStatus::kQueued);
    outbox.flush();
    const int res = complete_send();
    EXPECT_LT(res, 0);
    EXPECT_EQ(outbox.on_sent(c(), res), SendDone::kFailed);
    EXPECT_FALSE(conns[slot].send_busy);
}

TEST_F(OutboxTest, DropUnsentKeepsOnlyTheFramesInFlight) {
    ASSERT_EQ(enqueue("sent"), SendStatus::kQueued);
    outbox.flush();
    ASSERT_EQ(enqueue("dropped"), SendStatus::kQueued);
    outbox.drop_unsent(conns[slot]);
    EXPECT_EQ(conns[slot].out.bytes(), 4u);
    EXPECT_EQ(outbox.on_sent(c(), complete_send()), SendDone::kDrained);
}

TEST_F(OutboxTest, AnAbortingConnectionIsNotSentTo) {
    ASSERT_EQ(enqueue("a"), SendStatus::kQueued);
    conns[slot].state = ConnState::kAborting;
    outbox.flush();
    EXPECT_EQ(conns[slot].ops, 0);
    EXPECT_FALSE(conns[slot].send_busy);
}

// What a pass needed is kept while the current or the previous period needed it (no allocation
// under steady traffic); release_memory() gives it back once two periods went by without.
TEST_F(OutboxTest, ReleaseMemoryGivesBackWhatNoRecentPeriodNeeded) {
    ASSERT_EQ(enqueue("A"), SendStatus::kQueued);
    ASSERT_EQ(enqueue("BB"), SendStatus::kQueued);
    outbox.flush();  // two frames: one sendmsg from the arena
    const std::size_t used = outbox.retained_bytes();
    EXPECT_GT(used, 0u);
    EXPECT_EQ(complete_send(), 3);
    EXPECT_EQ(outbox.on_sent(c(), 3), SendDone::kDrained);
    EXPECT_EQ(peer_read(3), "ABB");
    outbox.release_memory();  // this period needed it
    EXPECT_EQ(outbox.retained_bytes(), used);
    outbox.end_period();
    outbox.release_memory();  // the previous period needed it
    EXPECT_EQ(outbox.retained_bytes(), used);
    outbox.end_period();
    outbox.release_memory();
    EXPECT_EQ(outbox.retained_bytes(), 0u);

    ASSERT_EQ(enqueue("CC"), SendStatus::kQueued);
    ASSERT_EQ(enqueue("D"), SendStatus::kQueued);
    outbox.flush();
    EXPECT_EQ(complete_send(), 3);
    EXPECT_EQ(outbox.on_sent(c(), 3), SendDone::kDrained);
    EXPECT_EQ(peer_read(3), "CCD");
}

}  // namespace
}  // namespace herald::net
