#include "channel/peer_mesh.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/support/cluster_peer.h"

namespace herald::channel::hub {
namespace {

using testing::bytes;
using testing::MeshNode;
using testing::RawPeer;
using Node = MeshNode;

// Listens first so each knows the other's port, then makes the meshes.
struct Pair {
    Node low{1, {}};
    Node high{2, {}};
    Pair() {
        low.pick_port();
        high.pick_port();
        low.options.peers = {high.options.cluster_listen};
        high.options.peers = {low.options.cluster_listen};
        EXPECT_TRUE(low.start());
        EXPECT_TRUE(high.start());
    }
    bool pump_until(const std::function<bool()>& done) {
        return testing::pump_until({&low, &high}, done);
    }
    static bool up(const Node& n, std::uint32_t peer) { return n.up(peer); }
};

TEST(Mesh, TwoHubsThatBothDialKeepOneLinkTheOneTheLowerNodeIdDialled) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return Pair::up(p.low, 2) && Pair::up(p.high, 1); }));
    for (int i = 0; i < 200; ++i) {
        p.low.pump();
        p.high.pump();
    }
    ASSERT_TRUE(Pair::up(p.low, 2) && Pair::up(p.high, 1));
    EXPECT_TRUE(p.low.mesh->peers().at(2).link->dialer);
    EXPECT_FALSE(p.high.mesh->peers().at(1).link->dialer);
    EXPECT_EQ(p.low.mesh->unnamed_links(), 0u);
    EXPECT_EQ(p.high.mesh->unnamed_links(), 0u);
    EXPECT_EQ(p.low.mesh->counters().refused_duplicate, 0u);
    EXPECT_EQ(p.high.mesh->counters().refused_duplicate, 0u);
}
TEST(Mesh, APublishReachesOnlyAPeerThatSubscribedInSeqOrder) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return Pair::up(p.low, 2) && Pair::up(p.high, 1); }));
    EXPECT_FALSE(p.low.mesh->forward("room", bytes("early")));  // nobody wants it yet
    p.high.interest.join(0, "room");
    p.high.mesh->send_to_linked(FrameType::kSubscribe, "room");
    ASSERT_TRUE(p.pump_until([&] { return p.low.interest.peer_wants(2, "room"); }));
    EXPECT_TRUE(p.low.mesh->forward("room", bytes("one")));
    EXPECT_TRUE(p.low.mesh->forward("room", bytes("two")));
    ASSERT_TRUE(p.pump_until([&] { return p.high.received.size() == 2; }));
    EXPECT_EQ(p.high.received[0], std::make_pair(std::string("room"), std::string("one")));
    EXPECT_EQ(p.high.received[1].second, "two");
    const Peer& from_low = p.high.mesh->peers().at(1);
    EXPECT_EQ(from_low.publishes_in, 2u);
    EXPECT_EQ(from_low.gaps, 0u);
    EXPECT_EQ(p.low.mesh->peers().at(2).publishes_out, 2u);
}

TEST(Mesh, AHostileFrameClosesTheLinkAndIsCounted) {
    Node n(1, {});
    n.start();
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const net::Endpoint& at = n.mesh->endpoint();
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&at.addr), at.addr_len), 0);
    const char garbage[8] = {4, 0, 0, 0, 9, 1, 0, 0};  // type 9 does not exist
    ASSERT_EQ(send(fd, garbage, sizeof garbage, 0), 8);
    for (int i = 0; i < 200 && n.mesh->bad_frames() == 0; ++i) n.pump();
    EXPECT_EQ(n.mesh->bad_frames(), 1u);
    EXPECT_EQ(n.mesh->unnamed_links(), 0u);
    close(fd);
}

TEST(Mesh, AHelloFromAnotherClusterIsRejected) {
    Node n(1, {});
    n.start();
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const net::Endpoint& at = n.mesh->endpoint();
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&at.addr), at.addr_len), 0);
    std::string hello;
    append_hello(hello, 5, "other", kHelloFresh, 1, make_nonce());
    ASSERT_EQ(send(fd, hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
    for (int i = 0; i < 200 && n.mesh->rejected_links() == 0; ++i) n.pump();
    EXPECT_EQ(n.mesh->rejected_links(), 1u);
    EXPECT_TRUE(n.mesh->peers().empty());
    close(fd);
}

TEST(Mesh, PublishesForADownPeerWaitInItsBacklogWithinTheBuffer) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return Pair::up(p.low, 2) && Pair::up(p.high, 1); }));
    p.low.interest.peer_subscribe(2, "room", 10);
    p.high.mesh.reset();  // the peer goes away (its links close)
    for (int i = 0; i < 1000 && Pair::up(p.low, 2); ++i) p.low.pump();
    ASSERT_FALSE(Pair::up(p.low, 2));
    p.low.mesh->forward("room", bytes("kept"));
    std::string stats;
    p.low.mesh->append_stats(stats);
    EXPECT_NE(stats.find("\"state\":\"down\""), std::string::npos) << stats;
    EXPECT_EQ(p.low.mesh->peers().at(2).window.bytes(), publish_frame_size(4, 4));
}

// A fake node 1 on a raw socket: says HELLO (incarnation `inc`), proves the (empty) secret, then
// sends PUBLISH frames with the given seqs.
std::unique_ptr<RawPeer> fake_peer(Node& n, std::uint64_t inc,
                                   std::initializer_list<std::uint64_t> seqs) {
    auto peer = std::make_unique<RawPeer>(n.mesh->endpoint());
    peer->hello(1, inc);
    EXPECT_TRUE(peer->authenticate(n, ""));
    std::string out;
    for (const std::uint64_t s : seqs) append_publish(out, 1, s, "room", bytes(std::to_string(s)));
    EXPECT_EQ(peer->send_some(out), out.size());
    return peer;
}

TEST(Mesh, AReplayIsDeliveredOnceEvenAcrossARestartOfTheReceivingHub) {
    Node n(2, {});
    n.start();
    auto peer = fake_peer(n, 7, {1, 2, 3});
    for (int i = 0; i < 2000 && n.received.size() < 3; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 3u);
    peer.reset();
    n.mesh.reset();
    n.start();  // a new hub process; the receive state is the host's shared memory
    peer = fake_peer(n, 7, {2, 3, 4});  // the sender replays what it holds unacknowledged
    for (int i = 0; i < 2000 && n.received.size() < 4; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 4u);
    EXPECT_EQ(n.received[3].second, "4");
    for (int i = 0; i < 200 && n.mesh->peers().at(1).stale < 2; ++i) n.pump();
    EXPECT_EQ(n.mesh->peers().at(1).stale, 2u);  // 2 and 3: dropped, not delivered twice
    EXPECT_EQ(n.mesh->peers().at(1).gaps, 0u);
    // It acknowledged 4 (the last frame of the stream).
    std::uint64_t acked = 0;
    for (int i = 0; i < 2000 && acked != 4; ++i) {
        n.pump();
        peer->drain();
        FrameWalker walker(peer->in());
        for (FrameCut c = walker.next(); c.status == FrameStatus::kFrame; c = walker.next()) {
            if (c.frame.type == FrameType::kAck) acked = read_ack(c.frame);
        }
    }
    EXPECT_EQ(acked, 4u);
    peer.reset();
    for (int i = 0; i < 200 && n.up(1); ++i) n.pump();
    // A new incarnation of the sender numbers from 1 again: delivered.
    peer = fake_peer(n, 8, {1});
    for (int i = 0; i < 2000 && n.received.size() < 5; ++i) n.pump();
    EXPECT_EQ(n.received.size(), 5u);
}

TEST(Mesh, FramesDroppedForADownPeerAreReportedInALostFrameAfterTheRelink) {
    Pair p;
    p.low.options.peer_buffer = 2 * publish_frame_size(4, 10);
    p.low.start();  // again, with the small buffer
    ASSERT_TRUE(p.pump_until([&] { return Pair::up(p.low, 2) && Pair::up(p.high, 1); }));
    p.low.interest.peer_subscribe(2, "room", 10);
    p.high.mesh.reset();
    for (int i = 0; i < 1000 && Pair::up(p.low, 2); ++i) p.low.pump();
    ASSERT_FALSE(Pair::up(p.low, 2));
    for (int i = 0; i < 5; ++i) p.low.mesh->forward("room", bytes("0123456789"));
    EXPECT_EQ(p.low.mesh->peers().at(2).drops, 3u);
    p.high.start();
    ASSERT_TRUE(
        p.pump_until([&] { return p.high.lost.size() == 1 && p.high.received.size() == 2; }));
    EXPECT_EQ(p.high.lost[0], "room");
    EXPECT_EQ(p.high.mesh->peers().at(1).lost_received, 1u);
    EXPECT_EQ(p.low.mesh->peers().at(2).lost_sent, 1u);
    ASSERT_TRUE(p.pump_until([&] { return p.low.mesh->peers().at(2).window.held() == 0; }));
}

}  // namespace
}  // namespace herald::channel::hub
