#include "channel/interest_table.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace herald::channel::hub {
namespace {

TEST(InterestTable, OnlyTheFirstWorkerToJoinAGroupIsNews) {
    InterestTable t(3);
    EXPECT_TRUE(t.join(0, "room"));
    EXPECT_FALSE(t.join(1, "room"));
    EXPECT_FALSE(t.join(1, "room"));  // already counted for worker 1
    EXPECT_EQ(t.local().at("room"), 2u);
}

TEST(InterestTable, OnlyTheLastWorkerToLeaveAGroupIsNews) {
    InterestTable t(3);
    t.join(0, "room");
    t.join(2, "room");
    EXPECT_FALSE(t.leave(0, "room"));
    EXPECT_FALSE(t.leave(0, "room"));  // it had left
    EXPECT_FALSE(t.leave(1, "room"));  // it never joined
    EXPECT_TRUE(t.leave(2, "room"));
    EXPECT_TRUE(t.local().empty());
}

TEST(InterestTable, AResetWorkerGivesUpItsGroupsAndReportsThoseNoWorkerWants) {
    InterestTable t(2);
    t.join(0, "a");
    t.join(0, "b");
    t.join(1, "b");
    std::vector<std::string> gone = t.reset(0);
    EXPECT_EQ(gone, std::vector<std::string>{"a"});
    EXPECT_EQ(t.local().size(), 1u);
    EXPECT_TRUE(t.join(0, "a"));  // it may join again
}

TEST(InterestTable, PeersSubscribeAndUnsubscribeByNode) {
    InterestTable t(1);
    EXPECT_FALSE(t.any_peer_wants("room"));
    EXPECT_TRUE(t.peer_subscribe(7, "room", 10));
    EXPECT_TRUE(t.peer_wants(7, "room"));
    EXPECT_FALSE(t.peer_wants(8, "room"));
    EXPECT_TRUE(t.any_peer_wants("room"));
    t.peer_unsubscribe(7, "room");
    t.peer_unsubscribe(9, "room");  // unknown peer: nothing happens
    EXPECT_FALSE(t.any_peer_wants("room"));
}

TEST(InterestTable, APeerOverItsSubscriptionLimitIsServedEveryGroupAndItsEntriesFreed) {
    InterestTable t(1);
    EXPECT_TRUE(t.peer_subscribe(7, "a", 2));
    EXPECT_TRUE(t.peer_subscribe(7, "b", 2));
    EXPECT_FALSE(t.peer_subscribe(7, "c", 2));  // once: the caller logs and counts it
    EXPECT_TRUE(t.peer_subscribe(7, "d", 2));
    EXPECT_EQ(t.peer_groups(7), 0u);
    EXPECT_EQ(t.peer_entries(), 0u);
    EXPECT_TRUE(t.peer_wants_all(7));
    EXPECT_TRUE(t.peer_wants(7, "anything"));
    EXPECT_TRUE(t.any_peer_wants("anything"));
}

TEST(InterestTable, APeerKeepsItsOldSetWhileANewLinkResendsIt) {
    InterestTable t(1);
    t.peer_subscribe(7, "a", 10);
    t.peer_subscribe(7, "b", 10);
    t.peer_begin_resync(7);
    EXPECT_TRUE(t.peer_wants(7, "a"));  // nothing dropped while the set crosses
    t.peer_subscribe(7, "b", 10);
    t.peer_subscribe(7, "c", 10);
    EXPECT_TRUE(t.peer_wants(7, "a") && t.peer_wants(7, "c"));
    t.peer_end_resync(7);
    EXPECT_FALSE(t.peer_wants(7, "a"));  // not in the new set
    EXPECT_TRUE(t.peer_wants(7, "b") && t.peer_wants(7, "c"));
    EXPECT_EQ(t.peer_entries(), 2u);
    t.peer_forget(7);
    EXPECT_EQ(t.peer_entries(), 0u);
}

TEST(InterestTable, ClearingAPeerForgetsItsSetOnly) {
    InterestTable t(1);
    t.peer_subscribe(7, "a", 10);
    t.peer_subscribe(8, "a", 10);
    t.peer_clear(7);
    EXPECT_EQ(t.peer_groups(7), 0u);
    EXPECT_TRUE(t.peer_wants(8, "a"));
}

}  // namespace
}  // namespace herald::channel::hub
