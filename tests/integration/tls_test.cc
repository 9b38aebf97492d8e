// wss:// with herald's own test client (OpenSSL client mode): the protocol suite's subset over
// TLS (the seed scenario, fragmentation, close codes, 1 MiB messages, a slow reader closed 1008
// with bounded memory) and two workers sharing one TLS port.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/tls_test_pki.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using net::Opcode;

#ifdef HERALD_SANITIZED
constexpr bool kRssMeaningful = false;  // ASan's quarantine keeps freed blocks resident
#else
constexpr bool kRssMeaningful = true;
#endif

std::vector<std::string> tls_args(const TestPki& pki, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"--workers",           "1",         "--tls-cert",
                                     pki.path("chain.pem"), "--tls-key", pki.path("server.key")};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

class Tls : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(herald_.ok()) << herald_.stderr_text();
        ASSERT_TRUE(herald_.listening_line().starts_with("herald listening on wss://"))
            << herald_.listening_line();
    }
    std::unique_ptr<WsClient> Connect() {
        std::string error;
        auto ws = WsClient::connect_tls(herald_.port(), &error);
        EXPECT_TRUE(ws) << error;
        return ws;
    }

    TestPki pki_;
    HeraldProcess herald_{tls_args(pki_)};
};

TEST_F(Tls, SeedScenarioRunsOverWss) {
    auto ws = Connect();
    ASSERT_TRUE(ws);
    ws->send_text(R"({"cmd":"add_group", "group_id":"123"})");
    ws->send_text(R"({"cmd":"send_to_group", "group_id":"123", "message":"C'est le message"})");
    EXPECT_EQ(ws->read_text(), "C'est le message");
}

TEST_F(Tls, FragmentedCommandWithInterleavedPingWorks) {
    auto ws = Connect();
    ASSERT_TRUE(ws);
    ws->add_group("frag");
    ws->send_frame(Opcode::kText, R"({"cmd":"send_to_)", false);
    ws->send_frame(Opcode::kPing, "mid");
    ws->send_frame(Opcode::kContinuation, R"(group","group_id":"frag",)", false);
    ws->send_frame(Opcode::kContinuation, R"("message":"joined up"})", true);
    auto pong = ws->read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, Opcode::kPong);
    EXPECT_EQ(ws->read_text(), "joined up");
}

TEST_F(Tls, CloseHandshakeEchoesTheCodeThenEndsTheConnection) {
    auto ws = Connect();
    ASSERT_TRUE(ws);
    ws->send_close(1000, "bye");
    EXPECT_EQ(ws->read_until_close(), 1000);
    EXPECT_TRUE(ws->wait_eof()) << "close_notify and FIN follow our close frame";
}

TEST_F(Tls, ProtocolErrorsGetTheirCloseCodes) {
    auto unmasked = Connect();
    ASSERT_TRUE(unmasked);
    unmasked->send_frame(Opcode::kText, "{}", true, /*masked=*/false);
    EXPECT_EQ(unmasked->read_until_close(), 1002);
    EXPECT_TRUE(unmasked->wait_eof());

    auto too_big = Connect();
    ASSERT_TRUE(too_big);
    too_big->send_text(std::string(1024 * 1024 + 1, 'y'));
    EXPECT_EQ(too_big->read_until_close(10000), 1009);
}

TEST_F(Tls, OneMebibyteMessagesMakeTheRoundTrip) {
    auto a = Connect();
    auto b = Connect();
    ASSERT_TRUE(a && b);
    a->add_group("big");
    b->add_group("big");
    ASSERT_TRUE(a->sync() && b->sync());
    // The command's JSON around the message must fit --max-message (1 MiB) too.
    const std::string big(1024 * 1024 - 64, 'x');
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(a->send_to_group("big", big));
        EXPECT_EQ(a->read_text(20000), big);
        EXPECT_EQ(b->read_text(20000), big);
    }
}

// As tests/integration/backpressure_test.cc, over TLS: the reader that never reads is closed
// with 1008; herald's memory stays bounded by --max-backpressure plus one TLS output block.
TEST_F(Tls, SlowReaderIsClosedWith1008AndMemoryStaysBounded) {
    constexpr int kMessages = 1280;  // 1280 x 16 KiB = 20 MiB
    const std::string payload(16 * 1024, 'p');
    auto slow = Connect();
    ASSERT_TRUE(slow);
    const int small = 4096;
    setsockopt(slow->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    slow->add_group("feed");
    ASSERT_TRUE(slow->sync());
    auto fast = Connect();
    ASSERT_TRUE(fast);
    fast->add_group("feed");
    ASSERT_TRUE(fast->sync());
    const long rss_before = herald_.rss_bytes();

    std::atomic<int> received{0};
    std::thread reader([&] {
        for (int m = 0; m < kMessages; ++m) {
            auto text = fast->read_text(20000);
            if (!text || *text != std::to_string(m) + payload) return;
            ++received;
        }
    });
    auto publisher = Connect();
    ASSERT_TRUE(publisher);
    long rss_peak = 0;
    for (int m = 0; m < kMessages; ++m) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (m - received.load() >= 48 && std::chrono::steady_clock::now() < deadline) {
            usleep(200);
        }
        ASSERT_TRUE(publisher->send_to_group("feed", std::to_string(m) + payload));
        if (m % 64 == 0) rss_peak = std::max(rss_peak, herald_.rss_bytes());
    }
    reader.join();
    EXPECT_EQ(received.load(), kMessages);
    EXPECT_EQ(stats_total_tls(herald_.port(), "closes_backpressure"), 1u);
    EXPECT_TRUE(slow->wait_eof(10000)) << "the slow reader's connection is ended";
    // 20 MiB went through; what herald held at any time is far below that (1 MiB of backpressure,
    // the fast reader's window, receive buffers and pool blocks).
    if (kRssMeaningful) {
        EXPECT_LT(rss_peak - rss_before, 16L << 20)
            << "before " << rss_before << " peak " << rss_peak;
    }
}

TEST(TlsWorkers, TwoWorkersShareTheTlsPort) {
    TestPki pki;
    HeraldProcess herald(tls_args(pki, {"--workers", "2"}));
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    EXPECT_TRUE(herald.listening_line().starts_with("herald listening on wss://"));
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 4; ++i) {
        std::string error;
        clients.push_back(WsClient::connect_tls(herald.port(), &error));
        ASSERT_TRUE(clients.back()) << error;
        clients.back()->add_group("all");
        ASSERT_TRUE(clients.back()->sync());
    }
    // Wait until every worker knows every group (interest travels through the rings).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool everyone = false;
    for (int round = 0; !everyone && std::chrono::steady_clock::now() < deadline; ++round) {
        const std::string msg = "m" + std::to_string(round);
        ASSERT_TRUE(clients[0]->send_to_group("all", msg));
        everyone = true;
        for (auto& c : clients) {
            while (true) {
                auto text = c->read_text(2000);
                if (!text) {
                    everyone = false;
                    break;
                }
                if (*text == msg) break;
            }
        }
    }
    EXPECT_TRUE(everyone) << "a message from one client reached the four, on either worker";
}

}  // namespace
}  // namespace herald::test
