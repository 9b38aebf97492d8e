// Fuzz-style test of the authenticated HELLO exchange (issue 14): random and mutated HELLO and
// AUTH frames, fixed seed, bounded count, each on its own connection to one hub with a secret.
// No such connection may ever bring a link up, and the hub must still link a real peer after.
#include <gtest/gtest.h>

#include <random>

#include "tests/support/cluster_peer.h"

namespace herald::channel::hub {
namespace {

using testing::MeshNode;
using testing::pump_until;
using testing::RawPeer;

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef";
constexpr int kCases = 300;

// A HELLO as a real dialer would send it, and an AUTH keyed with a wrong secret.
std::string valid_looking_exchange(std::mt19937_64& rng) {
    std::string out;
    append_hello(out, static_cast<std::uint32_t>(1 + rng() % 50), "test",
                 static_cast<std::uint16_t>(rng() % 2), rng(), make_nonce());
    AuthMac mac{};
    for (auto& b : mac) b = static_cast<std::uint8_t>(rng());
    append_auth(out, mac);
    return out;
}

std::string mutate(std::string s, std::mt19937_64& rng) {
    switch (rng() % 4) {
        case 0:  // flip a few bytes
            for (int i = 0; i < 1 + static_cast<int>(rng() % 4); ++i) {
                s[rng() % s.size()] = static_cast<char>(rng());
            }
            break;
        case 1:  // truncate
            s.resize(rng() % s.size());
            break;
        case 2:  // append garbage
            for (int i = 0; i < static_cast<int>(rng() % 64); ++i)
                s.push_back(static_cast<char>(rng()));
            break;
        default:  // pure random bytes
            s.assign(rng() % 128, '\0');
            for (char& c : s) c = static_cast<char>(rng());
    }
    return s;
}

TEST(HelloFuzz, NoRandomOrMutatedHelloExchangeBringsALinkUp) {
    std::mt19937_64 rng(20261207);
    MeshNode hub{100, {}, std::string(kSecret)};
    ASSERT_TRUE(hub.start());
    for (int i = 0; i < kCases; ++i) {
        RawPeer p(hub.mesh->endpoint());
        ASSERT_GE(p.fd(), 0);
        p.send_some(mutate(valid_looking_exchange(rng), rng));
        for (int k = 0; k < 5; ++k) {
            hub.pump();
            p.drain();
        }
        ASSERT_TRUE(hub.mesh->peers().empty()) << "case " << i;
    }
    // Each connection is gone (closed by us, or by the hub for its frame).
    EXPECT_TRUE(pump_until({&hub}, [&] { return hub.mesh->unnamed_links() == 0; }));
    const MeshCounters& c = hub.mesh->counters();
    EXPECT_GT(c.auth_failed + c.bad_frames + c.rejected_links, 0u);
    EXPECT_EQ(c.refused_duplicate, 0u);
    // The hub still links a peer that knows the secret.
    MeshNode real{1, {hub.mesh->endpoint()}, std::string(kSecret)};
    ASSERT_TRUE(real.start());
    EXPECT_TRUE(pump_until({&hub, &real}, [&] { return hub.up(1) && real.up(100); }));
}

TEST(HelloFuzz, AReplayedAuthFromAnotherConnectionIsRefused) {
    MeshNode hub{100, {}, std::string(kSecret)};
    ASSERT_TRUE(hub.start());
    // A real peer's exchange, recorded, then replayed on a new connection: the hub's nonce is
    // new, so the old AUTH proves nothing.
    RawPeer first(hub.mesh->endpoint());
    first.hello(1, 5);
    ASSERT_TRUE(first.authenticate(hub, kSecret));
    ASSERT_TRUE(pump_until({&hub}, [&] { return hub.up(1); }));
    RawPeer replay(hub.mesh->endpoint());
    std::string out;
    append_hello(out, 2, "test", 0, 5, make_nonce());
    AuthMac stale = hello_mac(kSecret, AuthRole::kDialer, HelloFacts{2, 5, 0, {}},
                              HelloFacts{100, 0, 0, {}}, "test");
    append_auth(out, stale);
    replay.send_some(out);
    EXPECT_TRUE(replay.wait_closed(hub));
    EXPECT_EQ(hub.mesh->counters().auth_failed, 1u);
    EXPECT_FALSE(hub.up(2));
}

}  // namespace
}  // namespace herald::channel::hub
