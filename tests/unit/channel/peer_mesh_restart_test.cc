// A hub restarted with its host's shared memory (kill -9, then the master's restart): its
// incarnation and its seqs to every peer go on, its peers are sent every group until they say
// which they want, and a peer missing frames that died with the previous process sees the gap
// and closes every group's members (docs/CLUSTER.md "Hub restarts").
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "channel/peer_mesh.h"
#include "tests/support/cluster_peer.h"

namespace herald::channel::hub {
namespace {

using testing::bytes;
using testing::MeshNode;

// Node 1 (the sender, restartable) and node 2, each listing the other.
struct Pair {
    MeshNode sender{1, {}};
    MeshNode receiver{2, {}};
    Pair() {
        sender.keep_incarnation = true;
        sender.pick_port();
        receiver.pick_port();
        sender.options.peers = {receiver.options.cluster_listen};
        receiver.options.peers = {sender.options.cluster_listen};
        EXPECT_TRUE(sender.start());
        EXPECT_TRUE(receiver.start());
    }
    bool pump_until(const std::function<bool()>& done) {
        return testing::pump_until({&sender, &receiver}, done);
    }
    bool up() { return sender.up(2) && receiver.up(1); }
    // The receiver wants `group` (as a SUBSCRIBE from it would say).
    void subscribe(const std::string& group) {
        receiver.interest.join(0, group);
        receiver.mesh->send_to_linked(FrameType::kSubscribe, group);
        ASSERT_TRUE(pump_until([&] { return sender.interest.peer_wants(2, group); }));
    }
    const Peer& at_sender() const { return sender.mesh->peers().at(2); }
    const Peer& at_receiver() const { return receiver.mesh->peers().at(1); }
};

TEST(MeshRestart, ARestartedSenderKeepsItsIncarnationAndNumbersOn) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    const std::uint64_t incarnation = p.sender.mesh->incarnation();
    EXPECT_EQ(p.sender.incarnation.load(), incarnation);
    for (int i = 0; i < 3; ++i) p.sender.mesh->forward("room", bytes("m" + std::to_string(i)));
    ASSERT_TRUE(p.pump_until(
        [&] { return p.receiver.received.size() == 3 && p.at_sender().window.held() == 0; }));
    p.sender.mesh.reset();  // killed: every frame was acknowledged
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.sender.mesh->incarnation(), incarnation);
    ASSERT_EQ(p.sender.mesh->peers().count(2), 1u);  // restored before any link
    EXPECT_EQ(p.at_sender().window.next_seq(), 4u);
    EXPECT_TRUE(p.sender.mesh->any_interest_unknown());
    // Before the receiver says what it wants, every group is sent to it.
    EXPECT_TRUE(p.sender.mesh->forward("elsewhere", bytes("e")));
    ASSERT_TRUE(p.pump_until([&] { return p.up() && !p.sender.mesh->any_interest_unknown(); }));
    p.sender.mesh->forward("room", bytes("m3"));
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.received.size() == 5; }));
    EXPECT_EQ(p.receiver.received[3].first, "elsewhere");
    EXPECT_EQ(p.receiver.received[4].second, "m3");
    EXPECT_EQ(p.at_receiver().gaps, 0u);
    EXPECT_EQ(p.at_receiver().stale, 0u);
    EXPECT_TRUE(p.receiver.lost.empty());  // nothing was lost: no member closed
    // Now that it has said, a group it does not want is not sent.
    EXPECT_FALSE(p.sender.mesh->forward("elsewhere", bytes("e")));
}

TEST(MeshRestart, FramesThatDiedWithTheSenderMakeTheReceiverCloseEveryGroup) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    p.sender.mesh->forward("room", bytes("m0"));
    ASSERT_TRUE(p.pump_until(
        [&] { return p.receiver.received.size() == 1 && p.at_sender().window.held() == 0; }));
    p.receiver.mesh.reset();  // the receiving hub is away: frames wait in the window
    ASSERT_TRUE(testing::pump_until({&p.sender}, [&] { return !p.sender.up(2); }));
    for (int i = 1; i <= 3; ++i) p.sender.mesh->forward("room", bytes("m" + std::to_string(i)));
    EXPECT_EQ(p.at_sender().window.held(), 3u);
    p.sender.mesh.reset();  // killed with 3 frames unacknowledged: they die with it
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.at_sender().window.acked(), 1u);     // still where the receiver left it
    EXPECT_EQ(p.at_sender().window.next_seq(), 6u);  // 2..4 died; 5 is the check mark
    ASSERT_TRUE(p.receiver.start());
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.lost.size() == 1; }));
    EXPECT_EQ(p.receiver.lost[0], "");  // every group's members are closed
    EXPECT_EQ(p.at_receiver().gaps, 3u);
    EXPECT_EQ(p.at_receiver().gap_closes, 1u);
    EXPECT_EQ(p.receiver.received.size(), 1u);
    ASSERT_TRUE(p.pump_until([&] { return p.at_sender().window.held() == 0; }));  // mark acked
    // From here the stream is whole again.
    p.sender.mesh->forward("room", bytes("m4"));
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.received.size() == 2; }));
    EXPECT_EQ(p.at_receiver().gap_closes, 1u);
}

TEST(MeshRestart, AReceiverWithNewStateStartsCountingAtTheSendersBase) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    for (int i = 0; i < 3; ++i) p.sender.mesh->forward("room", bytes("m" + std::to_string(i)));
    ASSERT_TRUE(p.pump_until(
        [&] { return p.receiver.received.size() == 3 && p.at_sender().window.held() == 0; }));
    // The receiving host starts over (a new master: its shared memory is new).
    p.receiver.mesh.reset();
    p.receiver.origins.reset(new OriginSeq[kMaxOrigins]{});
    p.receiver.received.clear();
    ASSERT_TRUE(p.receiver.start());
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    p.sender.mesh->forward("room", bytes("m3"));  // seq 4: no gap from the base, 3
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.received.size() == 1; }));
    EXPECT_EQ(p.at_receiver().gaps, 0u);
    EXPECT_TRUE(p.receiver.lost.empty());
}

TEST(MeshRestart, ALappedHubTellsEveryPeerThatEveryGroupLostFrames) {
    Pair p;
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.sender.mesh->lose_everything();
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.lost.size() == 1; }));
    EXPECT_EQ(p.receiver.lost[0], "");
    EXPECT_EQ(p.at_sender().lost_sent, 1u);
    EXPECT_EQ(p.at_receiver().gap_closes, 0u);
}

// Node 1 as a raw peer of `n` (incarnation 7) sending PUBLISH seqs to group "room".
std::unique_ptr<testing::RawPeer> raw_sender(MeshNode& n, std::initializer_list<std::uint64_t> s) {
    auto peer = std::make_unique<testing::RawPeer>(n.mesh->endpoint());
    peer->hello(1, 7);
    EXPECT_TRUE(peer->authenticate(n, ""));
    std::string out;
    for (const std::uint64_t seq : s) {
        append_publish(out, 1, seq, "room", bytes(std::to_string(seq)));
    }
    EXPECT_EQ(peer->send_some(out), out.size());
    return peer;
}

// The highest ACK the raw peer got.
std::uint64_t last_ack(testing::RawPeer& peer) {
    peer.drain();
    std::uint64_t acked = 0;
    FrameWalker walker(peer.in());
    for (FrameCut c = walker.next(); c.status == FrameStatus::kFrame; c = walker.next()) {
        if (c.frame.type == FrameType::kAck) acked = std::max(acked, read_ack(c.frame));
    }
    return acked;
}

TEST(MeshRestart, FramesStillInTheRingsOverflowQueueAreNeitherStoredNorAcknowledged) {
    MeshNode n(2, {});
    ASSERT_TRUE(n.start());
    // The host's ring: each delivery writes one record; `placed` says how many it holds.
    std::uint64_t placed = 0;
    n.mesh->set_ring_progress(
        {[&] { return std::uint64_t{n.received.size()}; }, [&] { return placed; }});
    auto peer = raw_sender(n, {1, 2, 3});
    for (int i = 0; i < 2000 && n.received.size() < 3; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 3u);
    EXPECT_EQ(n.mesh->unsettled(), 3u);
    for (int i = 0; i < 50; ++i) n.pump();
    EXPECT_EQ(last_ack(*peer), 0u);  // nothing acknowledged while it waits
    EXPECT_EQ(n.origins[0].last_seq.load(), 0u);
    placed = 2;  // the ring took two of them
    n.mesh->settle();
    EXPECT_EQ(n.origins[0].last_seq.load(), 2u);
    for (int i = 0; i < 200 && last_ack(*peer) != 2; ++i) n.pump();
    EXPECT_EQ(last_ack(*peer), 2u);
    // The hub dies with seq 3 in the overflow queue: the sender replays 3, and it is delivered.
    peer.reset();
    n.mesh.reset();
    ASSERT_TRUE(n.start());
    peer = raw_sender(n, {3, 4});
    for (int i = 0; i < 2000 && n.received.size() < 5; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 5u);
    EXPECT_EQ(n.received[3].second, "3");
    EXPECT_EQ(n.received[4].second, "4");
    EXPECT_EQ(n.mesh->peers().at(1).stale, 0u);
    EXPECT_EQ(n.mesh->peers().at(1).gaps, 0u);
}

TEST(MeshRestart, WhileFramesWaitToSettleAReplayIsStillNotDeliveredTwice) {
    MeshNode n(2, {});
    ASSERT_TRUE(n.start());
    std::uint64_t placed = 0;
    n.mesh->set_ring_progress(
        {[&] { return std::uint64_t{n.received.size()}; }, [&] { return placed; }});
    auto peer = raw_sender(n, {1, 2});
    for (int i = 0; i < 2000 && n.received.size() < 2; ++i) n.pump();
    ASSERT_EQ(n.received.size(), 2u);
    // A relink of the same sender process replays 1 and 2 (unacknowledged): both are stale.
    peer.reset();
    for (int i = 0; i < 200 && n.up(1); ++i) n.pump();
    peer = raw_sender(n, {1, 2, 3});
    for (int i = 0; i < 2000 && n.received.size() < 3; ++i) n.pump();
    for (int i = 0; i < 50; ++i) n.pump();
    EXPECT_EQ(n.received.size(), 3u);
    EXPECT_EQ(n.mesh->peers().at(1).stale, 2u);
    placed = 3;
    n.mesh->settle();
    EXPECT_EQ(n.mesh->unsettled(), 0u);
    EXPECT_EQ(n.origins[0].last_seq.load(), 3u);
}

TEST(MeshRestart, AKeptWindowIsReplayedWholeUnderItsSeqsAfterTheSenderIsKilled) {
    Pair p;
    p.sender.keep_windows = true;
    ASSERT_TRUE(p.sender.start());  // again, with its windows in "shared memory"
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    p.sender.mesh->forward("room", bytes("m0"), RecordId{1, 8});
    ASSERT_TRUE(p.pump_until(
        [&] { return p.receiver.received.size() == 1 && p.at_sender().window.held() == 0; }));
    p.receiver.mesh.reset();  // away: the next frames wait in the window
    ASSERT_TRUE(testing::pump_until({&p.sender}, [&] { return !p.sender.up(2); }));
    for (std::uint64_t i = 1; i <= 3; ++i) {
        p.sender.mesh->forward("room", bytes("m" + std::to_string(i)), RecordId{1, 8 + 8 * i});
    }
    p.sender.mesh.reset();  // killed with 3 frames unacknowledged
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.at_sender().window.held(), 3u);  // taken back whole
    EXPECT_EQ(p.at_sender().window.next_seq(), 5u);
    // The record it forwarded last is read again by the new process: not queued twice.
    p.sender.mesh->forward("room", bytes("m3"), RecordId{1, 32});
    EXPECT_EQ(p.at_sender().window.held(), 3u);
    ASSERT_TRUE(p.receiver.start());
    ASSERT_TRUE(p.pump_until(
        [&] { return p.receiver.received.size() == 4 && p.at_sender().window.held() == 0; }));
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(p.receiver.received[i].second, "m" + std::to_string(i));
    }
    EXPECT_EQ(p.at_receiver().gaps, 0u);
    EXPECT_TRUE(p.receiver.lost.empty());  // nothing lost: nobody closed
}

TEST(MeshRestart, FramesDeliveredButNotYetAcknowledgedAreDroppedAsDuplicatesAfterTheRestart) {
    Pair p;
    p.sender.keep_windows = true;
    ASSERT_TRUE(p.sender.start());
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    for (std::uint64_t i = 0; i < 3; ++i) {
        p.sender.mesh->forward("room", bytes("m" + std::to_string(i)), RecordId{2, 8 * i});
    }
    p.sender.poller.flush_dirty();  // on the wire; the receiver reads them, the ACK waits
    ASSERT_TRUE(
        testing::pump_until({&p.receiver}, [&] { return p.receiver.received.size() == 3; }));
    EXPECT_EQ(p.at_sender().window.held(), 3u);
    p.sender.mesh.reset();  // killed before it read the ACK
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.at_sender().window.held(), 3u);
    ASSERT_TRUE(p.pump_until([&] { return p.up() && p.at_receiver().stale == 3; }));
    p.sender.mesh->forward("room", bytes("m3"), RecordId{2, 24});
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.received.size() == 4; }));
    EXPECT_EQ(p.receiver.received[3].second, "m3");
    EXPECT_EQ(p.at_receiver().gaps, 0u);
    EXPECT_TRUE(p.receiver.lost.empty());
}

TEST(MeshRestart, AWindowThatOutgrewItsSlotFallsBackToTheCheckMark) {
    Pair p;
    p.sender.keep_windows = true;
    p.sender.options.peer_buffer = 1u << 20;
    ASSERT_TRUE(p.sender.start());
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    p.receiver.mesh.reset();
    ASSERT_TRUE(testing::pump_until({&p.sender}, [&] { return !p.sender.up(2); }));
    // Simulate a slot smaller than the window: mark it overflowed, as mirror_window() would.
    WindowMirror slot = p.sender.mirrors()[0];
    p.sender.mesh->forward("room", bytes("m0"), RecordId{1, 8});
    WindowMark m = slot.mark();
    m.overflowed = 1;
    slot.commit(m);
    p.sender.mesh.reset();
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.at_sender().window.held(), 1u);  // only the check mark
    ASSERT_TRUE(p.receiver.start());
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.lost.size() == 1; }));
    EXPECT_EQ(p.at_receiver().gap_closes, 1u);
}

TEST(MeshRestart, GroupsLostJustBeforeAKillAreReportedByTheNextProcess) {
    Pair p;
    p.sender.keep_windows = true;
    p.sender.options.peer_buffer = 2 * publish_frame_size(4, 2);
    ASSERT_TRUE(p.sender.start());
    ASSERT_TRUE(p.pump_until([&] { return p.up(); }));
    p.subscribe("room");
    p.receiver.mesh.reset();
    ASSERT_TRUE(testing::pump_until({&p.sender}, [&] { return !p.sender.up(2); }));
    for (std::uint64_t i = 0; i < 3; ++i) {  // the third does not fit: dropped, group remembered
        p.sender.mesh->forward("room", bytes("m" + std::to_string(i)), RecordId{1, 8 * i});
    }
    EXPECT_EQ(p.at_sender().drops, 1u);
    p.sender.mesh.reset();  // killed before any LOST could be sent
    ASSERT_TRUE(p.sender.start());
    EXPECT_EQ(p.at_sender().window.held(), 2u);
    EXPECT_TRUE(p.at_sender().window.lost_all());  // which group is not kept: every group
    ASSERT_TRUE(p.receiver.start());
    ASSERT_TRUE(p.pump_until([&] { return p.receiver.lost.size() == 1; }));
    EXPECT_EQ(p.receiver.lost[0], "");
    EXPECT_EQ(p.receiver.received.size(), 2u);
}

}  // namespace
}  // namespace herald::channel::hub
