#include "channel/poller.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace herald::channel::hub {
namespace {

// Records what the poller hands over.
struct Recorder final : HandleOwner {
    std::vector<std::uint32_t> ready;
    int flushed = 0;
    void on_ready(Handle&, std::uint32_t events) override { ready.push_back(events); }
    void on_flush(Handle&) override { ++flushed; }
};

// A connected non-blocking socketpair: `near` in the poller, `far` read by the test.
struct Pair {
    int near = -1;
    int far = -1;
    Pair() {
        int fds[2];
        EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
        near = fds[0];
        far = fds[1];
    }
    ~Pair() {
        if (far >= 0) close(far);
    }
};

std::string drain(int fd) {
    std::string got;
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) got.append(buf, std::size_t(n));
    return got;
}

TEST(Poller, WritesABufferWholeAndEmptiesIt) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair pair;
    Handle h(&owner);
    h.fd = pair.near;
    poller.add(h, EPOLLIN);
    h.out = "hello";
    const WriteResult r = poller.write_out(h);
    EXPECT_EQ(r.status, WriteStatus::kDone);
    EXPECT_EQ(r.written, 5u);
    EXPECT_TRUE(h.out.empty());
    EXPECT_FALSE(h.want_write);
    EXPECT_EQ(drain(pair.far), "hello");
    poller.close(h);
}

TEST(Poller, ArmsWriteInterestWhileTheKernelRefusesBytesAndReportsWhenItTakesThem) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair pair;
    Handle h(&owner);
    h.fd = pair.near;
    poller.add(h, EPOLLIN);
    h.out.assign(8u << 20, 'x');  // more than a socketpair buffers
    const WriteResult first = poller.write_out(h);
    ASSERT_EQ(first.status, WriteStatus::kPending);
    EXPECT_TRUE(h.want_write);
    EXPECT_EQ(h.unwritten(), h.out.size() - first.written);
    std::size_t got = drain(pair.far).size();
    ASSERT_GT(poller.wait(1000), 0);
    ASSERT_FALSE(owner.ready.empty());
    EXPECT_NE(owner.ready.back() & EPOLLOUT, 0u);
    while (h.unwritten() > 0) {
        poller.write_out(h);
        got += drain(pair.far).size();
    }
    got += drain(pair.far).size();
    EXPECT_EQ(got, std::size_t{8u << 20});
    EXPECT_FALSE(h.want_write);
    poller.close(h);
}

TEST(Poller, ReportsAFailedSendWithItsErrno) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair pair;
    Handle h(&owner);
    h.fd = pair.near;
    poller.add(h, EPOLLIN);
    close(pair.far);
    pair.far = -1;
    h.out = "to nobody";
    const WriteResult r = poller.write_out(h);
    EXPECT_EQ(r.status, WriteStatus::kFailed);
    EXPECT_EQ(r.error, EPIPE);
    poller.close(h);
}

TEST(Poller, FlushesEachDirtyHandleOnceAndSkipsClosedOnes) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair a, b;
    Handle ha(&owner), hb(&owner);
    ha.fd = a.near;
    hb.fd = b.near;
    poller.add(ha, EPOLLIN);
    poller.add(hb, EPOLLIN);
    ha.out = "1";
    hb.out = "2";
    poller.mark_dirty(ha);
    poller.mark_dirty(ha);
    poller.mark_dirty(hb);
    poller.close(hb);
    poller.flush_dirty();
    EXPECT_EQ(owner.flushed, 1);
    EXPECT_FALSE(ha.dirty);
    Handle empty(&owner);
    poller.mark_dirty(empty);  // nothing to write: not listed
    poller.flush_dirty();
    EXPECT_EQ(owner.flushed, 1);
    poller.close(ha);
}

TEST(Poller, HandsReadableEventsToTheOwnerAndNotOnceClosed) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair pair;
    Handle h(&owner);
    h.fd = pair.near;
    poller.add(h, EPOLLIN);
    ASSERT_EQ(send(pair.far, "x", 1, 0), 1);
    ASSERT_EQ(poller.wait(1000), 1);
    ASSERT_EQ(owner.ready.size(), 1u);
    EXPECT_NE(owner.ready[0] & EPOLLIN, 0u);
    char buf[8];
    const ReadResult r = recv_some(h.fd, buf, sizeof buf);
    EXPECT_EQ(r.status, ReadStatus::kData);
    EXPECT_EQ(r.bytes, 1u);
    EXPECT_EQ(recv_some(h.fd, buf, sizeof buf).status, ReadStatus::kAgain);
    poller.close(h);
    EXPECT_TRUE(h.dead);
    EXPECT_EQ(h.fd, -1);
}

TEST(Poller, RecvSomeSaysWhenThePeerClosed) {
    Pair pair;
    close(pair.far);
    pair.far = -1;
    char buf[8];
    EXPECT_EQ(recv_some(pair.near, buf, sizeof buf).status, ReadStatus::kClosed);
    close(pair.near);
}

TEST(Poller, RetiredHandlesLiveUntilTheBatchEnds) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    Pair pair;
    std::vector<std::unique_ptr<Handle>> list;
    list.push_back(std::make_unique<Handle>(&owner));
    Handle* h = list.back().get();
    h->fd = pair.near;
    poller.add(*h, EPOLLIN);
    h->out = "late";
    poller.mark_dirty(*h);
    poller.close(*h);
    poller.retire(list, *h);
    EXPECT_TRUE(list.empty());
    EXPECT_TRUE(h->dead);  // still readable: the dirty list names it
    poller.end_batch();
    EXPECT_EQ(owner.flushed, 0);
}

TEST(Poller, ListensOnAnEphemeralPortAndNamesTheFlagOnError) {
    Poller poller;
    ASSERT_TRUE(poller.open());
    Recorder owner;
    auto at = net::parse_endpoint("127.0.0.1:0");
    ASSERT_TRUE(at);
    Handle listener(&owner);
    ASSERT_TRUE(poller.listen(listener, *at, "--x-listen"));
    EXPECT_NE(at->port(), 0);
    Handle second(&owner);
    const core::Status taken = poller.listen(second, *at, "--x-listen");
    ASSERT_FALSE(taken);
    EXPECT_EQ(taken.error().rfind("hub: --x-listen: ", 0), 0u) << taken.error();
    poller.close(listener);
}

}  // namespace
}  // namespace herald::channel::hub
