// Heartbeats: a silent peer is pinged and then closed; a peer that answers pings stays.
// Short flag values keep the tests quick; every wait is bounded and generous.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const std::vector<std::string> kFastHeartbeat = {"--workers",      "1", "--ping-interval", "300ms",
                                                 "--idle-timeout", "1s"};

// Polls /stats until counter `name` reaches `want` (true) or timeout_ms passes (false).
bool wait_for_total(std::uint16_t port, const std::string& name, std::uint64_t want,
                    int timeout_ms) {
    const auto deadline = Clock::now() + milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
        if (stats_total(port, name) == want) return true;
        std::this_thread::sleep_for(milliseconds(50));
    }
    return stats_total(port, name) == want;
}

TEST(Heartbeat, ClientThatNeitherReadsNorPongsIsClosedAfterTheIdleTimeout) {
    HeraldProcess herald(kFastHeartbeat);
    ASSERT_TRUE(herald.ok());
    auto client = WsClient::connect(herald.port());
    ASSERT_TRUE(client);
    const auto start = Clock::now();
    // The client reads nothing while herald pings and then closes it: idle timeout 1 s, plus
    // up to one ping interval, plus the 1 s close timeout; 10 s is a generous bound.
    ASSERT_TRUE(wait_for_total(herald.port(), "closes_idle", 1, 10000));
    EXPECT_GE(Clock::now() - start, milliseconds(900));
    EXPECT_TRUE(wait_for_total(herald.port(), "connections", 1, 10000));  // only the asker
    EXPECT_GE(stats_total(herald.port(), "pings"), 1u);

    // What it would have read: a ping, then the close with 1001.
    auto ping = client->read_frame(3000);
    ASSERT_TRUE(ping);
    EXPECT_EQ(ping->opcode, net::Opcode::kPing);
    auto close = client->read_frame(3000);
    ASSERT_TRUE(close);
    ASSERT_EQ(close->opcode, net::Opcode::kClose);
    EXPECT_EQ(close->close_code(), 1001);
    EXPECT_EQ(close->close_reason(), "idle timeout");
    EXPECT_TRUE(client->wait_eof(3000));
}

TEST(Heartbeat, ClientThatOnlyAnswersPingsStaysOpen) {
    // 1.3 s between a ping and the close leaves a loaded machine time to answer.
    HeraldProcess herald(
        {"--workers", "1", "--ping-interval", "200ms", "--idle-timeout", "1500ms"});
    ASSERT_TRUE(herald.ok());
    auto client = WsClient::connect(herald.port());
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->add_group("g"));
    // Almost three idle timeouts during which the client sends nothing but pongs.
    int pings = 0;
    const auto until = Clock::now() + milliseconds(4000);
    while (Clock::now() < until) {
        auto f = client->read_frame(200);
        if (!f) continue;
        ASSERT_EQ(f->opcode, net::Opcode::kPing) << f->payload;
        ASSERT_TRUE(client->send_frame(net::Opcode::kPong, f->payload));
        ++pings;
    }
    EXPECT_GE(pings, 2);
    ASSERT_TRUE(client->sync());
    EXPECT_EQ(stats_total(herald.port(), "closes_idle"), 0u);
    EXPECT_EQ(stats_total(herald.port(), "memberships"), 1u);
}

TEST(Heartbeat, ABusyClientIsNotPinged) {
    HeraldProcess herald({"--workers", "1", "--ping-interval", "2s", "--idle-timeout", "4s"});
    ASSERT_TRUE(herald.ok());
    auto client = WsClient::connect(herald.port());
    ASSERT_TRUE(client);
    // A round trip every 50 ms for three seconds: never silent for the 2 s ping interval (which,
    // were input not heeded, would ping it once or twice).
    const auto until = Clock::now() + milliseconds(3000);
    while (Clock::now() < until) {
        ASSERT_TRUE(client->sync());
        std::this_thread::sleep_for(milliseconds(50));
    }
    EXPECT_EQ(stats_total(herald.port(), "pings"), 0u);
    EXPECT_EQ(stats_total(herald.port(), "closes_idle"), 0u);
}

TEST(Heartbeat, AcceptedSocketsHaveKeepaliveArmed) {
    if (run_program({"/usr/bin/ss", "-V"}).status != 0) GTEST_SKIP() << "no ss(8)";
    HeraldProcess herald(kFastHeartbeat);
    ASSERT_TRUE(herald.ok());
    auto client = WsClient::connect(herald.port());
    ASSERT_TRUE(client);
    const std::string port = std::to_string(herald.port());
    const RunResult ss =
        run_program({"/usr/bin/ss", "-tnoH", "state", "established", "( sport = :" + port + " )"});
    ASSERT_EQ(ss.status, 0) << ss.err;
    EXPECT_NE(ss.out.find("timer:(keepalive"), std::string::npos) << ss.out;
}

TEST(Heartbeat, IdleTimeoutNotLongerThanThePingIntervalIsRefusedAtStartUp) {
    const RunResult r = run_program(
        {herald_binary(), "--workers", "1", "--ping-interval", "2s", "--idle-timeout", "1s"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--idle-timeout must be longer than --ping-interval"), std::string::npos)
        << r.err;
}

}  // namespace
}  // namespace herald::test
