// Fan-out: every member gets each message exactly once, non-members get nothing, and a
// closed connection leaves its groups.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

std::vector<std::unique_ptr<WsClient>> connect_many(std::uint16_t port, int n) {
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < n; ++i) {
        auto c = WsClient::connect(port);
        if (!c) return {};
        clients.push_back(std::move(c));
    }
    return clients;
}

TEST(FanOut, TwoHundredMembersGetOnePublishExactlyOnce) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto members = connect_many(herald.port(), 200);
    auto outsiders = connect_many(herald.port(), 20);
    ASSERT_EQ(members.size(), 200u);
    ASSERT_EQ(outsiders.size(), 20u);
    for (auto& m : members) m->add_group("room");
    for (auto& o : outsiders) o->add_group("elsewhere");
    for (auto& m : members) ASSERT_TRUE(m->sync());
    for (auto& o : outsiders) ASSERT_TRUE(o->sync());

    auto publisher = WsClient::connect(herald.port());
    ASSERT_TRUE(publisher);
    publisher->send_to_group("room", "once");
    for (auto& m : members) {
        EXPECT_EQ(m->read_text(), "once");
    }
    for (auto& m : members) EXPECT_TRUE(m->quiet_for(5));  // no duplicate
    for (auto& o : outsiders) EXPECT_TRUE(o->quiet_for(5));
    EXPECT_TRUE(publisher->quiet_for(50));  // not a member: nothing
}

TEST(FanOut, MessagesFromOnePublisherArriveInOrder) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto members = connect_many(herald.port(), 10);
    ASSERT_EQ(members.size(), 10u);
    for (auto& m : members) m->add_group("ordered");
    for (auto& m : members) ASSERT_TRUE(m->sync());
    auto publisher = WsClient::connect(herald.port());
    for (int i = 0; i < 500; ++i) publisher->send_to_group("ordered", std::to_string(i));
    for (auto& m : members) {
        for (int i = 0; i < 500; ++i) ASSERT_EQ(m->read_text(), std::to_string(i));
    }
}

TEST(FanOut, ClosedConnectionLeavesItsGroups) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto stays = WsClient::connect(herald.port());
    auto leaves = WsClient::connect(herald.port());
    ASSERT_TRUE(stays && leaves);
    stays->add_group("a");
    leaves->add_group("a");
    leaves->add_group("b");
    ASSERT_TRUE(leaves->sync());
    ASSERT_TRUE(stays->sync());
    leaves->close_socket();

    // The stats show the memberships drop to the survivor's one.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (stats_total(herald.port(), "memberships") != 1 &&
           std::chrono::steady_clock::now() < deadline) {
        usleep(10000);
    }
    EXPECT_EQ(stats_total(herald.port(), "memberships"), 1u);
    EXPECT_EQ(stats_total(herald.port(), "groups"), 1u);
    stays->send_to_group("a", "still here");
    EXPECT_EQ(stays->read_text(), "still here");
}

TEST(FanOut, GroupWithoutMembersDeliversNothingAndAnswersNothing) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto ws = WsClient::connect(herald.port());
    ASSERT_TRUE(ws);
    ws->send_to_group("empty", "x");
    ASSERT_TRUE(ws->sync());
    EXPECT_TRUE(ws->quiet_for(100));
}

}  // namespace
}  // namespace herald::test
