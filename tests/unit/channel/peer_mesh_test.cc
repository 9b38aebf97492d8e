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
    EXPECT_EQ(p.low.mesh->peers().at(2).backlog.size(), publish_frame_size(4, 4));
}

}  // namespace
}  // namespace herald::channel::hub
