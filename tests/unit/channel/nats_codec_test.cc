// channel/nats_codec: group ids as one subject token each, and the order checks on the
// NATS engine's headers.
#include "channel/nats_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::channel::nats {
namespace {

std::string token(std::string_view group) {
    std::string out;
    append_group_token(out, group);
    return out;
}

TEST(NatsCodec, AnyGroupIdIsOneTokenThatRoundTrips) {
    const std::string ids[] = {"a",
                               "a.b",
                               "*",
                               ">",
                               "a b",
                               "x.*.>",
                               "\xF0\x9F\x8E\x89 party",
                               "",
                               std::string(1, '\0'),
                               "ab",
                               "abc",
                               "abcd",
                               std::string(128, '\xff')};
    for (const std::string& id : ids) {
        const std::string t = token(id);
        ASSERT_FALSE(t.empty());
        EXPECT_EQ(t.find_first_of(".*> \t\r\n"), std::string::npos) << t;
        std::string back;
        ASSERT_TRUE(decode_group_token(t, back)) << t;
        EXPECT_EQ(back, id);
    }
    EXPECT_NE(token("a.b"), token("a_b"));
    EXPECT_NE(token("*"), token(">"));
}

TEST(NatsCodec, ForeignTokensAreRefused) {
    std::string out;
    EXPECT_FALSE(decode_group_token("", out));
    EXPECT_FALSE(decode_group_token("a", out));    // an impossible length
    EXPECT_FALSE(decode_group_token("YQ=", out));  // padding
    EXPECT_FALSE(decode_group_token("a.b", out));  // not the alphabet
    EXPECT_FALSE(decode_group_token("YR", out));   // non-zero trailing bits
    EXPECT_TRUE(decode_group_token("YQ", out));
    EXPECT_EQ(out, "a");
}

TEST(NatsCodec, SeqsAreContiguousPerGroupAndFreshCountsStartAbove) {
    SeqCounter c;
    EXPECT_EQ(c.next("g", 0).seq, 1u);
    EXPECT_EQ(c.next("h", 0).seq, 2u);
    const SeqCounter::Issued g2 = c.next("g", 5);
    EXPECT_EQ(g2.seq, 2u);
    EXPECT_EQ(g2.prev, 1u);
    EXPECT_EQ(c.forget_idle(100, 50), 2u);
    const SeqCounter::Issued fresh = c.next("g", 100);
    EXPECT_EQ(fresh.prev, 0u);
    EXPECT_GT(fresh.seq, 2u);
}

TEST(NatsCodec, TrackerSeesGapsStaleAndFreshCounts) {
    SeqTracker t;
    EXPECT_EQ(t.observe("g", 1, 7, 10, 9, false, 0), Verdict::kDeliver);  // first: baseline
    EXPECT_EQ(t.observe("g", 1, 7, 11, 10, false, 0), Verdict::kDeliver);
    EXPECT_EQ(t.observe("g", 1, 7, 11, 10, false, 0), Verdict::kStale);
    EXPECT_EQ(t.observe("g", 1, 7, 14, 13, false, 0), Verdict::kGap);
    EXPECT_EQ(t.observe("g", 2, 3, 1, 0, false, 0), Verdict::kDeliver);   // another origin
    EXPECT_EQ(t.observe("g", 1, 7, 20, 0, false, 0), Verdict::kDeliver);  // a fresh count
    EXPECT_EQ(t.observe("g", 1, 7, 20, 0, true, 0), Verdict::kDeliver);   // sync: up to date
    EXPECT_EQ(t.observe("g", 1, 7, 22, 0, true, 0), Verdict::kGap);       // sync: 21, 22 missing
    EXPECT_EQ(t.observe("g", 1, 8, 1, 0, false, 0), Verdict::kDeliver);   // restarted origin
    t.forget("g");
    EXPECT_EQ(t.observe("g", 1, 8, 9, 8, false, 0), Verdict::kDeliver);  // a new subscription
    t.forget_idle(100, 10);
    EXPECT_EQ(t.groups(), 0u);
}

}  // namespace
}  // namespace herald::channel::nats
