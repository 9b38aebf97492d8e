// A worker's whole interest set (the answer to a resync) replaces what the hub believed of it,
// with the live joins and leaves that come between its begin and its end applied in order.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "channel/interest_table.h"
#include "core/interest_hash.h"

namespace herald::channel::hub {
namespace {

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

TEST(InterestSet, AWholeSetDropsWhatItDoesNotNameAndReportsTheGroupsNoWorkerWants) {
    InterestTable t(2);
    t.join(0, "stale");   // a leave of it was lost
    t.join(0, "shared");  // also held by worker 1
    t.join(1, "shared");
    t.join(0, "kept");
    t.begin_set(0);
    EXPECT_FALSE(t.join(0, "kept"));
    EXPECT_TRUE(t.join(0, "new"));  // a join that was lost
    EXPECT_EQ(sorted(t.end_set(0)), std::vector<std::string>{"stale"});
    EXPECT_EQ(t.worker_groups(0), 2u);
    EXPECT_EQ(t.local().size(), 3u);  // kept, new, shared (worker 1)
    EXPECT_EQ(t.local().at("shared"), 1u);
    core::InterestDigest d;
    d.toggle("new");
    d.toggle("kept");
    EXPECT_EQ(t.worker_digest(0), d.value());
}

TEST(InterestSet, LiveJoinsAndLeavesInsideTheSetCountInOrder) {
    InterestTable t(1);
    t.join(0, "a");
    t.join(0, "b");
    t.begin_set(0);
    EXPECT_TRUE(t.leave(0, "a"));  // left before its turn in the answer: never announced
    EXPECT_TRUE(t.join(0, "c"));   // created after the snapshot: announced live
    EXPECT_FALSE(t.join(0, "b"));  // the answer's record
    EXPECT_TRUE(t.leave(0, "b"));  // left after its record
    EXPECT_TRUE(t.end_set(0).empty());
    EXPECT_EQ(t.worker_groups(0), 1u);
    EXPECT_EQ(t.worker_digest(0), core::group_id_hash("c"));
}

TEST(InterestSet, AnEndWithoutABeginForgetsNothing) {
    InterestTable t(1);
    t.join(0, "a");
    EXPECT_TRUE(t.end_set(0).empty());
    t.begin_set(0);
    t.reset(0);  // the worker restarted mid-answer: its set is empty, and stays open no more
    t.join(0, "b");
    EXPECT_TRUE(t.end_set(0).empty());
    EXPECT_EQ(t.worker_groups(0), 1u);
}

TEST(InterestSet, TheDigestIsTheSameWhateverTheOrder) {
    core::InterestDigest a;
    core::InterestDigest b;
    for (const char* g : {"x", "y", "z"}) a.toggle(g);
    for (const char* g : {"z", "q", "x", "y", "q"}) b.toggle(g);
    EXPECT_EQ(a.value(), b.value());
    EXPECT_NE(core::group_id_hash("ab"), core::group_id_hash("ba"));
    a.clear();
    EXPECT_EQ(a.value(), 0u);
}

}  // namespace
}  // namespace herald::channel::hub
