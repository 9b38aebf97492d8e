#include "channel/peer_mesh.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

namespace herald::channel::hub {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// One hub's mesh on 127.0.0.1 with its own poller, interest table and a log of what its
// peers published to it.
struct Node {
    HubOptions options;
    Poller poller;
    InterestTable interest{1};
    std::vector<std::pair<std::string, std::string>> received;  // (group, message)
    std::vector<std::string> lost;                              // groups a LOST named
    // The receive state that outlives a mesh (as the host's shared memory outlives its hub).
    std::unique_ptr<OriginSeq[]> origins{new OriginSeq[kMaxOrigins]{}};
    std::unique_ptr<Mesh> mesh;

    Node(std::uint32_t id, std::vector<net::Endpoint> peers) {
        options.node_id = id;
        options.cluster = "test";
        options.cluster_enabled = true;
        options.cluster_listen = net::parse_endpoint("127.0.0.1:0").value();
        options.peers = std::move(peers);
        options.redial_min = core::kMillisecond;
        EXPECT_TRUE(poller.open());
    }
    // Listens (fills in the port), then makes the mesh over it.
    void start() {
        mesh = std::make_unique<Mesh>(
            options, poller, interest, [this](std::string_view g, std::span<const std::uint8_t> m) {
                received.emplace_back(std::string(g), std::string(m.begin(), m.end()));
            });
        mesh->set_origin_table(origins.get());
        mesh->set_on_lost([this](std::string_view g) { lost.emplace_back(g); });
        ASSERT_TRUE(mesh->listen());
    }
    void pump() {
        mesh->tick(core::now_ns());
        poller.flush_dirty();
        poller.wait(1);
        poller.end_batch();
    }
};

// Listens first so each knows the other's port, then makes the meshes.
struct Pair {
    Node low{1, {}};
    Node high{2, {}};
    Pair() {
        auto port_of = [](Node& n) {
            auto fd = net::listen_on(n.options.cluster_listen, {});
            EXPECT_TRUE(fd);
            close(*fd);  // the port is now known; the mesh listens on it again
        };
        port_of(low);
        port_of(high);
        low.options.peers = {high.options.cluster_listen};
        high.options.peers = {low.options.cluster_listen};
        low.start();
        high.start();
    }
    bool pump_until(const std::function<bool()>& done) {
        for (int i = 0; i < 3000 && !done(); ++i) {
            low.pump();
            high.pump();
        }
        return done();
    }
    static bool up(const Node& n, std::uint32_t peer) {
        auto it = n.mesh->peers().find(peer);
        return it != n.mesh->peers().end() && it->second.link != nullptr && it->second.link->hello;
    }
};

TEST(Mesh, TwoHubsKeepTheLinkTheLowerNodeIdDialled) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return Pair::up(p.low, 2) && Pair::up(p.high, 1); }));
    EXPECT_TRUE(p.low.mesh->peers().at(2).link->dialer);
    EXPECT_FALSE(p.high.mesh->peers().at(1).link->dialer);
    EXPECT_STREQ(p.high.mesh->dials()[0].passive, "the lower node id dials");
    EXPECT_EQ(p.low.mesh->unnamed_links(), 0u);
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
    append_hello(hello, 5, "other", kHelloFresh);
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

// A fake node 1 on a raw socket: says HELLO (incarnation `inc`), then sends PUBLISH frames
// with the given seqs.
int fake_peer(const Node& n, std::uint64_t inc, std::initializer_list<std::uint64_t> seqs) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const net::Endpoint& at = n.mesh->endpoint();
    EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&at.addr), at.addr_len), 0);
    std::string out;
    append_hello(out, 1, "test", 0, inc);
    for (const std::uint64_t s : seqs) append_publish(out, 1, s, "room", bytes(std::to_string(s)));
    EXPECT_EQ(send(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return fd;
}

TEST(Mesh, AReplayIsDeliveredOnceEvenAcrossARestartOfTheReceivingHub) {
    Node n(2, {});
    n.start();
    int fd = fake_peer(n, 7, {1, 2, 3});
    for (int i = 0; i < 2000 && n.received.size() < 3; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 3u);
    close(fd);
    n.mesh.reset();
    n.start();  // a new hub process; the receive state is the host's shared memory
    fd = fake_peer(n, 7, {2, 3, 4});  // the sender replays what it holds unacknowledged
    for (int i = 0; i < 2000 && n.received.size() < 4; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 4u);
    EXPECT_EQ(n.received[3].second, "4");
    for (int i = 0; i < 200 && n.mesh->peers().at(1).stale < 2; ++i) n.pump();
    EXPECT_EQ(n.mesh->peers().at(1).stale, 2u);  // 2 and 3: dropped, not delivered twice
    EXPECT_EQ(n.mesh->peers().at(1).gaps, 0u);
    // It acknowledged 4 (the last frame of the stream).
    std::string in(256, '\0');
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    std::uint64_t acked = 0;
    for (int i = 0; i < 20 && acked != 4; ++i) {
        n.pump();
        const ssize_t r = recv(fd, in.data(), in.size(), MSG_DONTWAIT);
        if (r > 0) got.append(in.data(), static_cast<std::size_t>(r));
        FrameWalker walker(got);
        for (FrameCut c = walker.next(); c.status == FrameStatus::kFrame; c = walker.next()) {
            if (c.frame.type == FrameType::kAck) acked = read_ack(c.frame);
        }
    }
    EXPECT_EQ(acked, 4u);
    close(fd);
    // A new incarnation of the sender numbers from 1 again: delivered.
    fd = fake_peer(n, 8, {1});
    for (int i = 0; i < 2000 && n.received.size() < 5; ++i) n.pump();
    EXPECT_EQ(n.received.size(), 5u);
    close(fd);
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
