#include "channel/cluster_frame.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace herald::channel {
namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

FrameStatus parse(const std::string& s, Frame& f, std::size_t& used, std::size_t max = 1024) {
    const FrameCut cut = FrameWalker(bytes(s), max).next();
    if (cut.status == FrameStatus::kFrame) used = cut.size;
    if (cut.status == FrameStatus::kFrame || cut.status == FrameStatus::kMalformed) f = cut.frame;
    return cut.status;
}

TEST(ClusterFrame, HelloRoundTrips) {
    std::string out;
    append_hello(out, 7, "prod");
    Frame f;
    std::size_t used = 0;
    ASSERT_EQ(parse(out, f, used), FrameStatus::kFrame);
    EXPECT_EQ(used, out.size());
    EXPECT_EQ(f.type, FrameType::kHello);
    const HelloBody h = read_hello(f);
    EXPECT_EQ(h.node, 7u);
    EXPECT_EQ(h.protocol, kClusterProtocolVersion);
    EXPECT_EQ(h.cluster, "prod");
}

TEST(ClusterFrame, HelloCarriesItsNonceAndAuthItsMac) {
    HelloNonce nonce{};
    for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(i + 1);
    AuthMac mac{};
    mac[0] = 0xab;
    mac[31] = 0xcd;
    std::string out;
    append_hello(out, 7, "prod", kHelloFresh, 42, nonce);
    append_auth(out, mac);
    FrameWalker w(out);
    const FrameCut hello = w.next();
    ASSERT_EQ(hello.status, FrameStatus::kFrame);
    EXPECT_EQ(hello.size, kFrameHeaderSize + kHelloFixed + 4);
    const HelloBody h = read_hello(hello.frame);
    EXPECT_EQ(h.incarnation, 42u);
    EXPECT_EQ(h.flags, kHelloFresh);
    EXPECT_EQ(h.nonce, nonce);
    EXPECT_EQ(h.cluster, "prod");
    const FrameCut auth = w.next();
    ASSERT_EQ(auth.status, FrameStatus::kFrame);
    EXPECT_EQ(auth.frame.type, FrameType::kAuth);
    EXPECT_EQ(read_auth(auth.frame), mac);
    std::string short_auth = out.substr(hello.size);
    short_auth[0] = 31;  // an AUTH body is exactly 32 bytes
    short_auth.pop_back();
    Frame f;
    std::size_t used = 0;
    EXPECT_EQ(parse(short_auth, f, used), FrameStatus::kMalformed);
}

TEST(ClusterFrame, PublishRoundTripsWithItsLayout) {
    std::string out;
    const std::string msg = "hello \xc3\xa9";
    append_publish(out, 3, 42, "room", bytes(msg));
    ASSERT_EQ(out.size(), publish_frame_size(4, msg.size()));
    std::uint32_t length = 0;
    std::memcpy(&length, out.data(), 4);
    EXPECT_EQ(length, out.size() - kFrameHeaderSize);
    EXPECT_EQ(out[4], static_cast<char>(FrameType::kPublish));
    EXPECT_EQ(out[5], static_cast<char>(kClusterProtocolVersion));
    Frame f;
    std::size_t used = 0;
    ASSERT_EQ(parse(out, f, used), FrameStatus::kFrame);
    const PublishBody p = read_publish(f);
    EXPECT_EQ(p.origin, 3u);
    EXPECT_EQ(p.seq, 42u);
    EXPECT_EQ(p.group, "room");
    EXPECT_EQ(std::string(p.message.begin(), p.message.end()), msg);
}

TEST(ClusterFrame, GroupAndPingFramesRoundTrip) {
    std::string out;
    append_group_frame(out, FrameType::kSubscribe, "a");
    append_group_frame(out, FrameType::kUnsubscribe, "");
    append_ping(out, FrameType::kPing, 99);
    Frame f;
    std::size_t used = 0;
    ASSERT_EQ(parse(out, f, used), FrameStatus::kFrame);
    EXPECT_EQ(f.type, FrameType::kSubscribe);
    EXPECT_EQ(read_group(f), "a");
    out.erase(0, used);
    ASSERT_EQ(parse(out, f, used), FrameStatus::kFrame);
    EXPECT_EQ(f.type, FrameType::kUnsubscribe);
    EXPECT_EQ(read_group(f), "");
    out.erase(0, used);
    ASSERT_EQ(parse(out, f, used), FrameStatus::kFrame);
    EXPECT_EQ(read_ping(f), 99u);
}

TEST(ClusterFrame, EveryPrefixOfAFrameNeedsMore) {
    std::string out;
    append_publish(out, 1, 1, "g", bytes(std::string(100, 'x')));
    for (std::size_t n = 0; n < out.size(); ++n) {
        Frame f;
        std::size_t used = 0;
        EXPECT_EQ(parse(out.substr(0, n), f, used), FrameStatus::kNeedMore) << n;
    }
}

TEST(ClusterFrame, OversizeLengthIsRefusedBeforeTheBodyArrives) {
    std::string out;
    append_publish(out, 1, 1, "g", bytes(std::string(2000, 'x')));
    Frame f;
    std::size_t used = 0;
    EXPECT_EQ(parse(out.substr(0, kFrameHeaderSize), f, used, 1024), FrameStatus::kOversize);
}

TEST(ClusterFrame, WrongVersionAndUnknownTypeAreRefused) {
    std::string out;
    append_ping(out, FrameType::kPing, 1);
    Frame f;
    std::size_t used = 0;
    std::string v = out;
    v[5] = 9;
    EXPECT_EQ(parse(v, f, used), FrameStatus::kBadVersion);
    std::string t = out;
    t[4] = 0;
    EXPECT_EQ(parse(t, f, used), FrameStatus::kBadType);
    t[4] = 10;  // 7 and 8 are ACK and LOST since version 2, 9 AUTH since version 3
    EXPECT_EQ(parse(t, f, used), FrameStatus::kBadType);
}

TEST(ClusterFrame, BodiesThatDoNotMatchTheirTypeAreMalformed) {
    Frame f;
    std::size_t used = 0;
    std::string ping;
    append_ping(ping, FrameType::kPing, 1);
    ping[0] = 7;  // a 7-byte ping body
    ping.pop_back();
    EXPECT_EQ(parse(ping, f, used), FrameStatus::kMalformed);
    std::string sub;
    append_group_frame(sub, FrameType::kSubscribe, "abc");
    sub[8] = 9;  // group length past the body
    EXPECT_EQ(parse(sub, f, used), FrameStatus::kMalformed);
    std::string pub;
    append_publish(pub, 1, 1, "abc", bytes("m"));
    pub[8 + 16] = 100;  // group length past the body
    EXPECT_EQ(parse(pub, f, used), FrameStatus::kMalformed);
    std::string hello;
    append_hello(hello, 1, "c");
    hello[8 + 6] = 5;  // name length past the body
    EXPECT_EQ(parse(hello, f, used), FrameStatus::kMalformed);
}

TEST(ClusterFrame, RandomBytesNeverReadPastTheInput) {
    std::mt19937 rng(12345);
    for (int i = 0; i < 100000; ++i) {
        std::string s(rng() % 64, '\0');
        for (char& c : s) c = static_cast<char>(rng());
        if (s.size() > 5 && rng() % 2 == 0) s[5] = static_cast<char>(kClusterProtocolVersion);
        if (s.size() > 4 && rng() % 2 == 0) s[4] = static_cast<char>(1 + rng() % 6);
        if (s.size() > 3 && rng() % 2 == 0) s[1] = s[2] = s[3] = 0;
        Frame f;
        std::size_t used = 0;
        if (parse(s, f, used, 4096) != FrameStatus::kFrame) continue;
        ASSERT_LE(used, s.size());
        if (f.type == FrameType::kHello) {
            EXPECT_LE(read_hello(f).cluster.size(), s.size());
        }
        if (f.type == FrameType::kPublish) {
            EXPECT_LE(read_publish(f).message.size(), s.size());
        }
    }
}

TEST(FrameWalker, CutsFramesBackToBackAndStopsBeforeAPartialOne) {
    std::string out;
    append_group_frame(out, FrameType::kSubscribe, "a");
    append_ping(out, FrameType::kPing, 5);
    const std::size_t whole = out.size();
    append_hello(out, 1, "c");
    out.resize(out.size() - 1);  // the HELLO's last byte has not arrived
    FrameWalker walker(out, 1024);
    FrameCut cut = walker.next();
    ASSERT_EQ(cut.status, FrameStatus::kFrame);
    EXPECT_EQ(cut.frame.type, FrameType::kSubscribe);
    EXPECT_EQ(cut.at, 0u);
    cut = walker.next();
    ASSERT_EQ(cut.status, FrameStatus::kFrame);
    EXPECT_EQ(cut.frame.type, FrameType::kPing);
    EXPECT_EQ(cut.at + cut.size, whole);
    EXPECT_EQ(walker.next().status, FrameStatus::kNeedMore);
    EXPECT_EQ(walker.consumed(), whole);
}

TEST(FrameWalker, StopsAtAHostileFrameWithoutMovingPastIt) {
    std::string out;
    append_ping(out, FrameType::kPing, 1);
    const std::size_t first = out.size();
    append_ping(out, FrameType::kPong, 2);
    out[first + kFrameVersionOffset] = 9;
    FrameWalker walker(out, 1024);
    ASSERT_EQ(walker.next().status, FrameStatus::kFrame);
    EXPECT_EQ(walker.next().status, FrameStatus::kBadVersion);
    EXPECT_EQ(walker.next().status, FrameStatus::kBadVersion);
    EXPECT_EQ(walker.consumed(), first);
}

TEST(FrameWalker, RefusesALengthOverItsLimitBeforeTheBodyArrives) {
    std::string out;
    append_publish(out, 1, 1, "g", bytes(std::string(100, 'x')));
    out.resize(kFrameHeaderSize);
    EXPECT_EQ(FrameWalker(out, 50).next().status, FrameStatus::kOversize);
    EXPECT_EQ(FrameWalker(out).next().status, FrameStatus::kNeedMore);
}

TEST(ClusterFrame, RenumberingRewritesOnlyPublishSeqs) {
    std::string out;
    append_publish(out, 1, 40, "g", bytes("a"));
    append_ping(out, FrameType::kPing, 77);
    append_publish(out, 1, 41, "g", bytes("b"));
    EXPECT_EQ(renumber_publishes(out, 1), 3u);
    FrameWalker walker(out);
    EXPECT_EQ(read_publish(walker.next().frame).seq, 1u);
    EXPECT_EQ(read_ping(walker.next().frame), 77u);
    EXPECT_EQ(read_publish(walker.next().frame).seq, 2u);
}

TEST(ClusterFrame, FieldsSitAtTheirDrawnOffsets) {
    std::string out;
    append_publish(out, 0x01020304, 0x1122334455667788, "grp", bytes("m"));
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::uint16_t glen = 0;
    std::memcpy(&origin, out.data() + kFrameHeaderSize + kPublishOriginOffset, 4);
    std::memcpy(&seq, out.data() + kFrameHeaderSize + kPublishSeqOffset, 8);
    std::memcpy(&glen, out.data() + kFrameHeaderSize + kPublishGroupLenOffset, 2);
    EXPECT_EQ(origin, 0x01020304u);
    EXPECT_EQ(seq, 0x1122334455667788u);
    EXPECT_EQ(glen, 3u);
    EXPECT_EQ(out.substr(kFrameHeaderSize + kPublishFixed, 3), "grp");
}

}  // namespace
}  // namespace herald::channel
