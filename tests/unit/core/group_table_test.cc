#include "core/group_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace herald::core {
namespace {

std::vector<GroupTable::MemberId> sorted(std::span<const GroupTable::MemberId> s) {
    std::vector<GroupTable::MemberId> v(s.begin(), s.end());
    std::sort(v.begin(), v.end());
    return v;
}

TEST(GroupTable, JoinCreatesGroupThenAddsToIt) {
    GroupTable t;
    EXPECT_EQ(t.join(1, "123", 8), GroupTable::JoinResult::kJoinedNewGroup);
    EXPECT_EQ(t.join(2, "123", 8), GroupTable::JoinResult::kJoined);
    EXPECT_EQ(sorted(t.members("123")), (std::vector<GroupTable::MemberId>{1, 2}));
    EXPECT_EQ(t.group_count(), 1u);
    EXPECT_EQ(t.membership_count(), 2u);
}

TEST(GroupTable, JoiningTwiceChangesNothing) {
    GroupTable t;
    t.join(1, "a", 8);
    EXPECT_EQ(t.join(1, "a", 8), GroupTable::JoinResult::kAlreadyMember);
    EXPECT_EQ(t.members("a").size(), 1u);
    EXPECT_EQ(t.groups_of(1), 1u);
}

TEST(GroupTable, RejectsJoinBeyondMaxGroups) {
    GroupTable t;
    EXPECT_EQ(t.join(1, "a", 2), GroupTable::JoinResult::kJoinedNewGroup);
    EXPECT_EQ(t.join(1, "b", 2), GroupTable::JoinResult::kJoinedNewGroup);
    EXPECT_EQ(t.join(1, "c", 2), GroupTable::JoinResult::kTooManyGroups);
    EXPECT_TRUE(t.members("c").empty());
    EXPECT_EQ(t.join(1, "a", 2), GroupTable::JoinResult::kAlreadyMember);
}

TEST(GroupTable, LeaveRemovesGroupWithItsLastMember) {
    GroupTable t;
    t.join(1, "a", 8);
    t.join(2, "a", 8);
    EXPECT_EQ(t.leave(1, "a"), GroupTable::LeaveResult::kLeft);
    EXPECT_EQ(t.leave(1, "a"), GroupTable::LeaveResult::kNotMember);
    EXPECT_EQ(t.leave(2, "a"), GroupTable::LeaveResult::kLeftGroupRemoved);
    EXPECT_EQ(t.group_count(), 0u);
    EXPECT_EQ(t.leave(3, "nope"), GroupTable::LeaveResult::kNotMember);
}

TEST(GroupTable, LeaveAllReportsEmptiedGroups) {
    GroupTable t;
    t.join(1, "a", 8);
    t.join(1, "b", 8);
    t.join(2, "b", 8);
    std::vector<std::string> removed;
    t.leave_all(1, [&](std::string_view g) { removed.emplace_back(g); });
    EXPECT_EQ(removed, std::vector<std::string>{"a"});
    EXPECT_EQ(sorted(t.members("b")), std::vector<GroupTable::MemberId>{2});
    EXPECT_EQ(t.groups_of(1), 0u);
}

TEST(GroupTable, EmptyStringIsAGroupLikeAnyOther) {
    GroupTable t;
    EXPECT_EQ(t.join(7, "", 8), GroupTable::JoinResult::kJoinedNewGroup);
    EXPECT_EQ(t.members("").size(), 1u);
}

// Random joins and leaves checked against a simple model, so every swap-remove path runs.
TEST(GroupTable, MatchesAModelUnderRandomChurn) {
    GroupTable t;
    std::map<std::string, std::set<GroupTable::MemberId>> model;
    std::mt19937 rng(42);
    for (int step = 0; step < 20000; ++step) {
        // Ids on both sides of the member lists' 256-entry chunks.
        const auto m = static_cast<GroupTable::MemberId>(rng() % 50 + (rng() % 2 ? 0 : 700));
        const std::string g = "g" + std::to_string(rng() % 20);
        switch (rng() % 5) {
            case 0:
            case 1:
                t.join(m, g, 1000);
                model[g].insert(m);
                break;
            case 2:
            case 3:
                t.leave(m, g);
                model[g].erase(m);
                break;
            default:
                t.leave_all(m);
                for (auto& [name, members] : model) members.erase(m);
        }
    }
    std::size_t groups = 0;
    for (const auto& [name, members] : model) {
        const auto got = sorted(t.members(name));
        EXPECT_EQ(got, std::vector<GroupTable::MemberId>(members.begin(), members.end())) << name;
        if (!members.empty()) ++groups;
    }
    EXPECT_EQ(t.group_count(), groups);
    for (GroupTable::MemberId m : {0u, 49u, 700u, 749u}) {
        std::size_t in = 0;
        for (const auto& [name, members] : model) in += members.count(m);
        EXPECT_EQ(t.groups_of(m), in) << m;
    }
}

}  // namespace
}  // namespace herald::core
