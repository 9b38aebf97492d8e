#include "net/fan_out.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace herald::net {
namespace {

// Records what the groups announce to the other processes.
struct RecordingRelay final : Relay {
    std::vector<std::pair<std::string, bool>> interests;

    void publish(std::string_view, std::span<const std::uint8_t>) override {}
    std::size_t room = SIZE_MAX;  // records can_write() lets through

    void interest(std::string_view group, bool joined) override {
        interests.emplace_back(std::string(group), joined);
        if (room != SIZE_MAX && room > 0) --room;
    }
    void interest_set(bool begin) override { interests.emplace_back(begin ? "<" : ">", begin); }
    bool can_write() const override { return room > 0; }
    bool poll(RecordSink&) override { return false; }
    bool pending() const override { return false; }
    void flush() override {}
    bool prepare_to_sleep() override { return true; }
    void woke() override {}
    int wake_fd() const override { return -1; }
    std::int64_t spin_ns() const override { return 0; }
};

using Interests = std::vector<std::pair<std::string, bool>>;

class GroupFanOutTest : public ::testing::Test {
  protected:
    static constexpr std::uint64_t kBound = 100;

    GroupFanOutTest() {
        for (int i = 0; i < 4; ++i) {
            const std::uint32_t slot = conns.emplace();
            conns[slot].state = ConnState::kOpen;
        }
        groups.set_relay(&relay);
    }
    ~GroupFanOutTest() override {
        for (std::uint32_t s = 0; s < 4; ++s) outbox.clear(conns[s]);
    }

    core::Block* frame(std::size_t size) {
        core::Block* b = pool.acquire(size);
        std::memset(b->data(), 'x', size);
        b->size = static_cast<std::uint32_t>(size);
        return b;
    }

    Uring uring;  // never started: nothing here submits
    core::BlockPool pool;
    core::Slab<Connection> conns{8};
    ConnOps ops{uring, conns};
    Outbox outbox{ops, conns, kBound};
    WorkerStats stats;
    RecordingRelay relay;
    GroupFanOut groups{stats, 2};
};

TEST_F(GroupFanOutTest, AnnouncesAGroupsFirstMemberAndItsLastLeave) {
    EXPECT_TRUE(groups.join(0, "g"));
    EXPECT_TRUE(groups.join(1, "g"));
    groups.leave(0, "g");
    groups.leave(1, "g");
    EXPECT_EQ(relay.interests, (Interests{{"g", true}, {"g", false}}));
    EXPECT_FALSE(groups.has_members("g"));
}

TEST_F(GroupFanOutTest, RefusesAJoinPastTheLimitPerConnection) {
    EXPECT_TRUE(groups.join(0, "a"));
    EXPECT_TRUE(groups.join(0, "b"));
    EXPECT_FALSE(groups.join(0, "c"));
    EXPECT_FALSE(groups.has_members("c"));
    EXPECT_EQ(stats.memberships.get(), 2u);
    EXPECT_EQ(stats.groups.get(), 2u);
}

TEST_F(GroupFanOutTest, LeaveAllAnnouncesEveryGroupItEmptied) {
    ASSERT_TRUE(groups.join(0, "a"));
    ASSERT_TRUE(groups.join(0, "b"));
    ASSERT_TRUE(groups.join(1, "b"));
    relay.interests.clear();
    groups.leave_all(0);
    EXPECT_EQ(relay.interests, (Interests{{"a", false}}));
    EXPECT_EQ(stats.memberships.get(), 1u);
}

TEST_F(GroupFanOutTest, AnnounceAllRepeatsEveryGroupWithAMemberBetweenBeginAndEnd) {
    ASSERT_TRUE(groups.join(0, "a"));
    ASSERT_TRUE(groups.join(1, "b"));
    relay.interests.clear();
    groups.announce_all();
    EXPECT_TRUE(groups.resyncing());
    EXPECT_FALSE(groups.resync_step(100));
    EXPECT_FALSE(groups.resyncing());
    ASSERT_EQ(relay.interests.size(), 4u);
    EXPECT_EQ(relay.interests.front(), (std::pair<std::string, bool>{"<", true}));
    EXPECT_EQ(relay.interests.back(), (std::pair<std::string, bool>{">", false}));
    std::sort(relay.interests.begin() + 1, relay.interests.end() - 1);
    EXPECT_EQ(relay.interests[1], (std::pair<std::string, bool>{"a", true}));
    EXPECT_EQ(relay.interests[2], (std::pair<std::string, bool>{"b", true}));
}

// The answer goes out as the ring takes it; a group left before its turn is not named, and one
// created meanwhile is named by its live join, so the records stay in the order of events.
TEST_F(GroupFanOutTest, APacedAnswerNamesOnlyGroupsStillHeldWhenTheirTurnComes) {
    ASSERT_TRUE(groups.join(0, "a"));
    ASSERT_TRUE(groups.join(1, "b"));
    ASSERT_TRUE(groups.join(2, "c"));
    relay.interests.clear();
    relay.room = 0;  // the ring is full
    groups.announce_all();
    EXPECT_TRUE(groups.resync_step(100));
    EXPECT_EQ(relay.interests.size(), 1u);  // only the begin
    groups.leave(0, "a");
    groups.leave(1, "b");
    ASSERT_TRUE(groups.join(3, "d"));
    ASSERT_TRUE(groups.join(3, "b"));  // left and joined again: named (again) at its turn
    relay.room = SIZE_MAX;
    EXPECT_FALSE(groups.resync_step(100));
    Interests answer(relay.interests.begin() + 5,
                     relay.interests.end() - 1);  // after the live ones
    std::sort(answer.begin(), answer.end());
    EXPECT_EQ(answer, (Interests{{"b", true}, {"c", true}}));
    EXPECT_EQ(relay.interests.back(), (std::pair<std::string, bool>{">", false}));
    core::InterestDigest digest;
    for (const char* g : {"b", "c", "d"}) digest.toggle(g);
    EXPECT_EQ(stats.interest_hash.get(), digest.value());
}

TEST_F(GroupFanOutTest, SendSharesOneFrameWithEveryMember) {
    for (std::uint32_t s = 0; s < 3; ++s) ASSERT_TRUE(groups.join(s, "g"));
    core::Block* f = frame(10);
    EXPECT_TRUE(groups.send("g", f, outbox, conns).empty());
    EXPECT_EQ(f->refs(), 4u);  // ours and one per member's queue
    EXPECT_EQ(stats.deliveries.get(), 3u);
    EXPECT_TRUE(conns[3].out.empty());  // not a member
    f->unref();
}

TEST_F(GroupFanOutTest, SendReturnsTheMembersOverTheBound) {
    ASSERT_TRUE(groups.join(0, "g"));
    ASSERT_TRUE(groups.join(1, "g"));
    core::Block* big = frame(90);
    ASSERT_EQ(outbox.enqueue({conns[1], 1}, big), SendStatus::kQueued);  // 1 owes 90 bytes
    core::Block* f = frame(20);
    const std::span<const std::uint32_t> refused = groups.send("g", f, outbox, conns);
    EXPECT_EQ(std::vector<std::uint32_t>(refused.begin(), refused.end()),
              std::vector<std::uint32_t>{1});
    EXPECT_EQ(stats.deliveries.get(), 1u);
    f->unref();
    big->unref();
}

TEST_F(GroupFanOutTest, AMessageForAGroupWithoutMembersIsNotEncoded) {
    const std::uint8_t message[] = {'h', 'i'};
    EXPECT_TRUE(groups.send("nobody", message, pool, outbox, conns).empty());
    EXPECT_EQ(stats.deliveries.get(), 0u);
}

}  // namespace
}  // namespace herald::net
