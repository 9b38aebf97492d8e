// The sender's window of unacknowledged frames, its LOST bookkeeping, and the receiver's seq
// classification (channel/ack_window.h).
#include "channel/ack_window.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "channel/cluster_frame.h"

namespace herald::channel::hub {
namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The seqs of the frames in `frames`, in order.
std::vector<std::uint64_t> seqs(std::string_view frames) {
    std::vector<std::uint64_t> out;
    FrameWalker walker(frames);
    for (FrameCut cut = walker.next(); cut.status == FrameStatus::kFrame; cut = walker.next()) {
        out.push_back(frame_seq(cut.frame));
    }
    return out;
}

TEST(AckWindow, HoldsEveryFrameUntilItIsAcknowledgedAndReplaysTheRestAfterAPartialAck) {
    AckWindow w(1 << 20);
    std::string link;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.push_publish(1, "g", bytes("m"), &link));
    EXPECT_EQ(seqs(link), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(w.held(), 5u);
    EXPECT_EQ(w.ack(3), 3u);
    EXPECT_EQ(seqs(w.frames()), (std::vector<std::uint64_t>{4, 5}));
    EXPECT_EQ(w.held(), 2u);
    EXPECT_EQ(w.ack(2), 0u);   // older than the last ack: ignored
    EXPECT_EQ(w.ack(99), 0u);  // beyond what was sent: ignored
    EXPECT_EQ(w.ack(5), 2u);
    EXPECT_EQ(w.bytes(), 0u);
    EXPECT_TRUE(w.frames().empty());
}

TEST(AckWindow, KeepsOrderAcrossTheTopOfTheSeqRange) {
    constexpr std::uint64_t kTop = UINT64_MAX - 2;
    AckWindow w(1 << 20, kTop);
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(w.push_publish(1, "g", bytes("m"), nullptr));
    EXPECT_EQ(seqs(w.frames()),
              (std::vector<std::uint64_t>{kTop, kTop + 1, UINT64_MAX, 1, 2, 3}));  // 0 skipped
    EXPECT_EQ(w.ack(UINT64_MAX), 3u);
    EXPECT_EQ(seqs(w.frames()), (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(w.ack(2), 2u);
    EXPECT_EQ(w.next_seq(), 4u);
    EXPECT_TRUE(seq_after(0, UINT64_MAX));
    EXPECT_FALSE(seq_after(UINT64_MAX, 0));
}

TEST(AckWindow, DropsWhatDoesNotFitAndRemembersItsGroupsForALostFrame) {
    const std::size_t one = publish_frame_size(1, 10);
    AckWindow w(3 * one);
    const std::string m(10, 'x');
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.push_publish(1, "a", bytes(m), nullptr));
    EXPECT_FALSE(w.push_publish(1, "a", bytes(m), nullptr));
    EXPECT_FALSE(w.push_publish(1, "b", bytes(m), nullptr));
    EXPECT_FALSE(w.push_publish(1, "b", bytes(m), nullptr));
    EXPECT_EQ(w.next_seq(), 4u);  // no seq is spent on a dropped frame
    EXPECT_EQ(w.lost_groups().at("a"), 1u);
    EXPECT_EQ(w.lost_groups().at("b"), 2u);
    std::string link;
    EXPECT_EQ(w.push_lost(&link), 2u);  // beyond the limit: a LOST always goes out
    EXPECT_TRUE(w.lost_groups().empty());
    FrameWalker walker(link);
    const LostBody a = read_lost(walker.next().frame);
    const LostBody b = read_lost(walker.next().frame);
    EXPECT_EQ(a.seq, 4u);
    EXPECT_EQ(a.group, "a");
    EXPECT_EQ(a.count, 1u);
    EXPECT_EQ(b.seq, 5u);
    EXPECT_EQ(b.group, "b");
    EXPECT_EQ(b.count, 2u);
    // The LOST frames are acknowledged like the PUBLISH frames.
    EXPECT_EQ(w.held(), 5u);
    EXPECT_EQ(w.ack(5), 5u);
}

TEST(AckWindow, PastItsBoundTheLostSetBecomesEveryGroup) {
    AckWindow w(0);  // nothing fits
    for (std::size_t i = 0; i < kMaxLostGroups; ++i) {
        EXPECT_FALSE(w.push_publish(1, "g" + std::to_string(i), {}, nullptr));
    }
    EXPECT_EQ(w.lost_groups().size(), kMaxLostGroups);
    EXPECT_FALSE(w.lost_all());
    EXPECT_FALSE(w.push_publish(1, "one more", {}, nullptr));
    EXPECT_TRUE(w.lost_all());
    EXPECT_TRUE(w.lost_groups().empty());
    EXPECT_EQ(w.lost_all_count(), kMaxLostGroups + 1);
    EXPECT_FALSE(w.push_publish(1, "g1", {}, nullptr));
    EXPECT_EQ(w.lost_all_count(), kMaxLostGroups + 2);
    std::string link;
    EXPECT_EQ(w.push_lost(&link), 1u);
    FrameWalker walker(link);
    const FrameCut cut = walker.next();
    ASSERT_EQ(cut.status, FrameStatus::kFrame);
    const LostBody all = read_lost(cut.frame);
    EXPECT_TRUE(all.all);
    EXPECT_TRUE(all.group.empty());
    EXPECT_EQ(all.count, kMaxLostGroups + 2);
}

TEST(SeqFilter, DeliversTheNextSeqCountsGapsAndDropsDuplicatesAcrossTheTop) {
    EXPECT_EQ(classify_seq(0, 1), SeqVerdict::kDeliver);  // nothing delivered yet: 1 is next
    EXPECT_EQ(classify_seq(0, 17), SeqVerdict::kGap);
    EXPECT_EQ(classify_seq(4, 5), SeqVerdict::kDeliver);
    EXPECT_EQ(classify_seq(4, 4), SeqVerdict::kDuplicate);
    EXPECT_EQ(classify_seq(4, 2), SeqVerdict::kDuplicate);  // replayed after a relink
    EXPECT_EQ(classify_seq(4, 7), SeqVerdict::kGap);
    EXPECT_EQ(classify_seq(UINT64_MAX - 1, UINT64_MAX), SeqVerdict::kDeliver);
    EXPECT_EQ(classify_seq(UINT64_MAX, 1), SeqVerdict::kDeliver);  // 0 is never used
    EXPECT_EQ(classify_seq(UINT64_MAX, UINT64_MAX - 3), SeqVerdict::kDuplicate);
    EXPECT_EQ(classify_seq(UINT64_MAX, 2), SeqVerdict::kGap);
}

}  // namespace
}  // namespace herald::channel::hub
