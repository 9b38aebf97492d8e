// The cluster port against hostile and broken peers (issue 14): the authenticated HELLO, one
// identity per node, joining in any order, bounded memory, deadlines from accept, the
// descriptor limit. Hubs are meshes on 127.0.0.1; hostile peers are raw sockets.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include "channel/peer_auth.h"
#include "channel/peer_mesh.h"
#include "tests/support/cluster_peer.h"

namespace herald::channel::hub {
namespace {

using testing::bytes;
using testing::MeshNode;
using testing::pump_until;
using testing::RawPeer;

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef";

// Hubs `a` (node 1) and `b` (node 100), both listing each other, linked, with a member of "room"
// on b.
struct Linked {
    MeshNode a{1, {}, std::string(kSecret)};
    MeshNode b{100, {}, std::string(kSecret)};
    explicit Linked(bool b_lists_a = true, bool a_lists_b = true) {
        a.pick_port();
        b.pick_port();
        if (a_lists_b) a.options.peers = {b.options.cluster_listen};
        if (b_lists_a) b.options.peers = {a.options.cluster_listen};
        EXPECT_TRUE(a.start());
        EXPECT_TRUE(b.start());
    }
    bool link() {
        if (!pump_until({&a, &b}, [&] { return a.up(100) && b.up(1); })) return false;
        b.interest.join(0, "room");
        b.mesh->send_to_linked(FrameType::kSubscribe, "room");
        return pump_until({&a, &b}, [&] { return a.interest.peer_wants(100, "room"); });
    }
    // a publishes `count` numbered messages from `first`; true when b got every one in order.
    bool stream(int first, int count) {
        const std::size_t before = b.received.size();
        const std::size_t want = before + static_cast<std::size_t>(count);
        for (int i = first; i < first + count; ++i) {
            a.mesh->forward("room", bytes(std::to_string(i)));
            a.pump();
            b.pump();
        }
        if (!pump_until({&a, &b}, [&] { return b.received.size() >= want; })) {
            return false;
        }
        for (int i = 0; i < count; ++i) {
            if (b.received[before + static_cast<std::size_t>(i)].second !=
                std::to_string(first + i)) {
                return false;
            }
        }
        return b.received.size() == want;
    }
};

std::string write_file(const std::string& name, std::string_view text) {
    const std::string path = (std::filesystem::temp_directory_path() / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

TEST(ClusterSecret, IsReadOnceWithItsTrailingNewlineTrimmed) {
    auto s = read_cluster_secret(write_file("herald_secret_ok", std::string(kSecret) + "\n"));
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(*s, kSecret);
}

TEST(ClusterSecret, RejectsAMissingEmptyOrShortFileWithAClearError) {
    auto missing = read_cluster_secret("/nonexistent/herald-secret");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find("cannot read /nonexistent/herald-secret"), std::string::npos);
    auto empty = read_cluster_secret(write_file("herald_secret_empty", ""));
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().find("at least 16"), std::string::npos) << empty.error();
    EXPECT_FALSE(read_cluster_secret(write_file("herald_secret_short", "short\n")));
    EXPECT_FALSE(read_cluster_secret(write_file("herald_secret_big", std::string(5000, 'x'))));
}

TEST(HelloMac, DependsOnTheRoleTheSecretAndEveryHelloField) {
    HelloFacts d{1, 11, 0, make_nonce()};
    HelloFacts a{2, 22, kHelloFresh, make_nonce()};
    const AuthMac mac = hello_mac(kSecret, AuthRole::kDialer, d, a, "test");
    EXPECT_TRUE(mac_equal(mac, hello_mac(kSecret, AuthRole::kDialer, d, a, "test")));
    EXPECT_FALSE(mac_equal(mac, hello_mac(kSecret, AuthRole::kAcceptor, d, a, "test")));
    EXPECT_FALSE(mac_equal(mac, hello_mac("another secret!!", AuthRole::kDialer, d, a, "test")));
    EXPECT_FALSE(mac_equal(mac, hello_mac(kSecret, AuthRole::kDialer, d, a, "tes")));
    HelloFacts changed = a;
    changed.flags = 0;
    EXPECT_FALSE(mac_equal(mac, hello_mac(kSecret, AuthRole::kDialer, d, changed, "test")));
    changed = a;
    changed.incarnation = 23;
    EXPECT_FALSE(mac_equal(mac, hello_mac(kSecret, AuthRole::kDialer, d, changed, "test")));
    changed = a;
    changed.nonce[31] ^= 1;
    EXPECT_FALSE(mac_equal(mac, hello_mac(kSecret, AuthRole::kDialer, d, changed, "test")));
}

TEST(MeshAuth, HubsWithDifferentSecretsNeverLinkAndCountIt) {
    Linked l;
    l.b.mesh.reset();
    l.b.options.cluster_secret = "another secret, sixteen bytes+";
    ASSERT_TRUE(l.b.start());
    EXPECT_TRUE(pump_until({&l.a, &l.b}, [&] {
        return l.a.mesh->counters().auth_failed > 0 && l.b.mesh->counters().auth_failed > 0;
    }));
    EXPECT_FALSE(l.a.up(100));
    EXPECT_FALSE(l.b.up(1));
    EXPECT_TRUE(l.a.mesh->peers().empty());
}

// An impostor claims node 1 on b's port (with and without the fresh flag).
void impostor_without_the_secret(std::uint16_t flags) {
    Linked l;
    ASSERT_TRUE(l.link());
    ASSERT_TRUE(l.stream(0, 50));
    RawPeer impostor(l.b.mesh->endpoint());
    impostor.hello(1, 12345, flags);
    ASSERT_TRUE(impostor.authenticate(l.b, "a guessed secret, not the one"));
    EXPECT_TRUE(impostor.wait_closed(l.b));
    EXPECT_EQ(l.b.mesh->counters().auth_failed, 1u);
    EXPECT_TRUE(l.b.up(1));
    EXPECT_EQ(l.b.mesh->peers().at(1).connects, 1u);  // A's link was never taken
    EXPECT_TRUE(l.stream(50, 50));                    // nothing lost, nothing stale
    EXPECT_EQ(l.b.mesh->peers().at(1).stale, 0u);
    EXPECT_EQ(l.b.mesh->peers().at(1).gaps, 0u);
}

TEST(MeshAuth, AnImpostorWithoutTheSecretIsRefusedAndTheLiveLinkKeepsEveryMessage) {
    impostor_without_the_secret(0);
}

TEST(MeshAuth, AnImpostorWithTheFreshFlagCannotRestartTheNumbering) {
    impostor_without_the_secret(kHelloFresh);
}

// No secret on either hub (a loopback cluster): the impostor proves the empty secret, but node 1
// is linked and healthy, so it is refused as a duplicate.
void impostor_when_no_secret(std::uint16_t flags) {
    Linked l;
    l.a.mesh.reset();
    l.b.mesh.reset();
    l.a.options.cluster_secret.clear();
    l.b.options.cluster_secret.clear();
    ASSERT_TRUE(l.a.start() && l.b.start());
    ASSERT_TRUE(l.link());
    ASSERT_TRUE(l.stream(0, 50));
    RawPeer impostor(l.b.mesh->endpoint());
    impostor.hello(1, 999, flags);
    ASSERT_TRUE(impostor.authenticate(l.b, ""));
    EXPECT_TRUE(impostor.wait_closed(l.b));
    EXPECT_EQ(l.b.mesh->counters().refused_duplicate, 1u);
    EXPECT_TRUE(l.b.up(1));
    EXPECT_EQ(l.b.mesh->peers().at(1).connects, 1u);
    EXPECT_TRUE(l.stream(50, 50));
    EXPECT_EQ(l.b.mesh->peers().at(1).stale, 0u);
}

TEST(MeshAuth, WithoutASecretAHelloForALiveNodeIsRefusedAsADuplicate) {
    impostor_when_no_secret(0);
}

TEST(MeshAuth, WithoutASecretAFreshHelloForALiveNodeIsRefusedAsADuplicate) {
    impostor_when_no_secret(kHelloFresh);
}

TEST(MeshIdentity, TwoHubsWithTheSameNodeIdEachReportTheConflict) {
    MeshNode x{7, {}, std::string(kSecret)};
    MeshNode y{7, {}, std::string(kSecret)};
    x.pick_port();
    y.pick_port();
    x.options.peers = {y.options.cluster_listen};
    y.options.peers = {x.options.cluster_listen};
    ASSERT_TRUE(x.start() && y.start());
    EXPECT_TRUE(pump_until({&x, &y}, [&] {
        return x.mesh->counters().refused_own_id > 0 && y.mesh->counters().refused_own_id > 0;
    }));
    EXPECT_TRUE(x.mesh->peers().empty());
}

TEST(MeshIdentity, ASecondHubWithALinkedNodesIdIsRefusedByTheThirdHost) {
    Linked l;  // a is node 1, linked with b
    ASSERT_TRUE(l.link());
    MeshNode twin{1, {l.b.options.cluster_listen}, std::string(kSecret)};
    ASSERT_TRUE(twin.start());
    EXPECT_TRUE(pump_until({&l.a, &l.b, &twin},
                           [&] { return l.b.mesh->counters().refused_duplicate > 0; }));
    EXPECT_TRUE(l.stream(0, 100));
    EXPECT_EQ(l.b.mesh->peers().at(1).connects, 1u);  // no flapping
}

TEST(MeshJoin, AnUnlistedHubWithTheHighestIdLinksBothWays) {
    Linked l(/*b_lists_a=*/true, /*a_lists_b=*/false);
    ASSERT_TRUE(l.link());
    EXPECT_FALSE(l.a.mesh->listed(100));
    EXPECT_TRUE(l.b.mesh->listed(1));
    EXPECT_TRUE(l.stream(0, 100));
    l.a.interest.join(0, "back");
    l.a.mesh->send_to_linked(FrameType::kSubscribe, "back");
    ASSERT_TRUE(pump_until({&l.a, &l.b}, [&] { return l.b.interest.peer_wants(1, "back"); }));
    l.b.mesh->forward("back", bytes("hello a"));
    EXPECT_TRUE(pump_until({&l.a, &l.b}, [&] { return l.a.received.size() == 1; }));
}

TEST(MeshJoin, AnUnlistedPeerDownPastTheBoundIsForgottenWithItsSubscriptions) {
    MeshNode a{1, {}, std::string(kSecret)};
    a.options.peer_timeout = 50 * core::kMillisecond;  // forgotten after 10 x 50 ms
    ASSERT_TRUE(a.start());
    {
        RawPeer p(a.mesh->endpoint());
        p.hello(9, 1);
        ASSERT_TRUE(p.authenticate(a, kSecret));
        std::string subs;
        for (int i = 0; i < 100; ++i)
            append_group_frame(subs, FrameType::kSubscribe, "g" + std::to_string(i));
        append_ping(subs, FrameType::kPing, 0);  // the end of its set
        p.send_some(subs);
        ASSERT_TRUE(pump_until({&a}, [&] { return a.interest.peer_entries() == 100; }));
        a.mesh->forward("g1", bytes("held for it"));
    }
    EXPECT_TRUE(pump_until(
        {&a}, [&] { return a.mesh->counters().forgotten_peers == 1; }, 20000));
    EXPECT_TRUE(a.mesh->peers().empty());
    EXPECT_EQ(a.interest.peer_entries(), 0u);
}

TEST(MeshLimits, ASubscribeOverMaxGroupIdIsRefusedAndCountedNotStored) {
    MeshNode a{1, {}, std::string(kSecret)};
    ASSERT_TRUE(a.start());
    RawPeer p(a.mesh->endpoint());
    p.hello(9, 1);
    ASSERT_TRUE(p.authenticate(a, kSecret));
    std::string subs;
    append_group_frame(subs, FrameType::kSubscribe, std::string(60000, 'x'));
    append_group_frame(subs, FrameType::kSubscribe, "fine");
    append_ping(subs, FrameType::kPing, 0);  // the end of its set
    p.send_some(subs);
    ASSERT_TRUE(pump_until({&a}, [&] { return a.interest.peer_wants(9, "fine"); }));
    EXPECT_EQ(a.mesh->counters().subscribe_refused, 1u);
    EXPECT_EQ(a.interest.peer_entries(), 1u);
    EXPECT_TRUE(a.up(9));
}

TEST(MeshLimits, BeforeItsAuthAPeerMaySendNothingLongerThanAHello) {
    MeshNode a{1, {}, std::string(kSecret)};
    ASSERT_TRUE(a.start());
    RawPeer p(a.mesh->endpoint());
    std::string big;
    append_hello(big, 9, std::string(kMaxClusterName, 'c'), 0, 1, make_nonce());
    big[0] = static_cast<char>(kMaxHandshakeBody + 1);  // one byte past the longest HELLO
    big[1] = static_cast<char>((kMaxHandshakeBody + 1) >> 8);
    p.send_some(big.substr(0, kFrameHeaderSize));  // refused from the header alone
    EXPECT_TRUE(p.wait_closed(a));
    EXPECT_EQ(a.mesh->bad_frames(), 1u);
}

TEST(MeshLimits, ASubscriptionFloodIsServedEveryGroupAndItsEntriesAreFreed) {
    MeshNode a{1, {}, std::string(kSecret)};
    a.options.max_peer_groups = 1000;
    ASSERT_TRUE(a.start());
    RawPeer p(a.mesh->endpoint());
    p.hello(9, 1);
    ASSERT_TRUE(p.authenticate(a, kSecret));
    std::string subs;
    for (int i = 0; i < 1500; ++i)
        append_group_frame(subs, FrameType::kSubscribe, "g" + std::to_string(i));
    for (std::size_t off = 0; off < subs.size();) {
        off += p.send_some(std::string_view(subs).substr(off));
        a.pump();
    }
    ASSERT_TRUE(pump_until({&a}, [&] { return a.mesh->counters().interest_overflows == 1; }));
    EXPECT_EQ(a.interest.peer_entries(), 0u);  // the entries are gone
    EXPECT_TRUE(a.interest.peer_wants(9, "any group at all"));
    EXPECT_TRUE(a.up(9));  // served, not cut off
}

TEST(MeshLimits, APeerThatSendsPingsAndNeverReadsIsClosedAsASlowConsumer) {
    MeshNode a{1, {}, std::string(kSecret)};
    a.options.peer_buffer = 64 * 1024;
    ASSERT_TRUE(a.start());
    RawPeer p(a.mesh->endpoint());
    const int small = 4096;
    setsockopt(p.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    p.hello(9, 1);
    ASSERT_TRUE(p.authenticate(a, kSecret));
    std::string pings;
    for (int i = 0; i < 4096; ++i) append_ping(pings, FrameType::kPing, 1);
    // At most 64 MiB of PINGs: the bound is 64 KiB + 1 MiB (+ the kernel's buffers).
    for (int round = 0; round < 1024 && a.mesh->counters().slow_closes == 0; ++round) {
        for (std::size_t off = 0; off < pings.size() && !p.closed();) {
            const std::size_t n = p.send_some(std::string_view(pings).substr(off));
            off += n;
            a.pump();
            if (n == 0) break;
        }
    }
    EXPECT_EQ(a.mesh->counters().slow_closes, 1u);
    EXPECT_TRUE(a.mesh->peers().at(9).link == nullptr);
}

TEST(MeshDeadlines, SixtyFourTricklingHellosDoNotKeepARealPeerOut) {
    MeshNode a{1, {}, std::string(kSecret)};
    a.options.peer_timeout = 2 * core::kSecond;
    a.pick_port();
    ASSERT_TRUE(a.start());
    std::vector<std::unique_ptr<RawPeer>> slow;
    std::string hello;
    append_hello(hello, 5, "test", 0, 1, make_nonce());
    for (std::size_t i = 0; i < kMaxUnnamedLinks; ++i) {
        slow.push_back(std::make_unique<RawPeer>(a.mesh->endpoint()));
        slow.back()->send_some(hello.substr(0, 1));
    }
    for (int i = 0; i < 50; ++i) a.pump();
    ASSERT_EQ(a.mesh->unnamed_links(), kMaxUnnamedLinks);
    MeshNode real{2, {a.options.cluster_listen}, std::string(kSecret)};
    ASSERT_TRUE(real.start());
    const core::Nanos start = core::now_ns();
    core::Nanos trickled = start;
    std::size_t at = 1;
    bool joined = false;
    // Until the real peer is up, or the slow ones' deadline has surely passed.
    while (!joined && core::now_ns() - start < 2 * a.options.peer_timeout) {
        if (core::now_ns() - trickled >= core::kSecond && at < hello.size()) {
            for (auto& s : slow) s->send_some(hello.substr(at, 1));  // one byte a second
            ++at;
            trickled = core::now_ns();
        }
        a.pump();
        real.pump();
        joined = a.up(2) && real.up(1);
    }
    EXPECT_TRUE(joined);
    // It got in while every slow connection was still within its deadline (none timed out yet).
    EXPECT_EQ(a.mesh->counters().hello_timeouts, 0u);
    // And no trickling connection outlives --peer-timeout from its accept.
    EXPECT_TRUE(pump_until(
        {&a}, [&] { return a.mesh->unnamed_links() == 0; }, 100000));
}

TEST(MeshDescriptors, AtTheLimitTheHubPausesAcceptsAndLogsOncePerInterval) {
    MeshNode a{1, {}, std::string(kSecret)};
    ASSERT_TRUE(a.start());
    std::vector<std::unique_ptr<RawPeer>> waiting;
    for (int i = 0; i < 4; ++i) waiting.push_back(std::make_unique<RawPeer>(a.mesh->endpoint()));
    // Accepted before the limit, so every type on the accept path has been seen once: UBSan's
    // vptr check needs a pipe (two descriptors) the first time it meets a type, and would
    // report a false "invalid vptr" at the limit.
    ASSERT_TRUE(pump_until({&a}, [&] { return a.mesh->unnamed_links() == waiting.size(); }));
    for (int i = 0; i < 4; ++i) waiting.push_back(std::make_unique<RawPeer>(a.mesh->endpoint()));
    rlimit saved{};
    getrlimit(RLIMIT_NOFILE, &saved);
    std::size_t open_fds = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)e;
        ++open_fds;
    }
    rlimit tight = saved;
    tight.rlim_cur = open_fds - 1;  // the iterator's own descriptor is closed again: no room
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
    const core::Nanos start = core::now_ns();
    for (int i = 0; i < 300; ++i) a.pump();
    const core::Nanos elapsed = core::now_ns() - start;
    const std::uint64_t pauses = a.mesh->counters().accept_pauses;
    setrlimit(RLIMIT_NOFILE, &saved);
    EXPECT_GE(pauses, 1u);
    // One try per pause interval, not one per loop pass.
    EXPECT_LE(pauses, static_cast<std::uint64_t>(elapsed / kAcceptPause) + 2);
    EXPECT_TRUE(pump_until({&a}, [&] { return a.mesh->unnamed_links() == waiting.size(); }));
}

}  // namespace
}  // namespace herald::channel::hub
