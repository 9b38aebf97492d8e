// A reader that never reads: it is closed with 1008 once it owes more than --max-backpressure,
// and nobody else in its group is delayed or loses anything.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

TEST(Backpressure, SlowReaderIsClosedWhileOthersGetEverything) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    constexpr int kMessages = 1280;  // 1280 x 16 KiB = 20 MiB
    const std::string payload(16 * 1024, 'p');

    auto slow = WsClient::connect(herald.port());
    ASSERT_TRUE(slow);
    const int small = 4096;
    setsockopt(slow->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    slow->add_group("feed");
    ASSERT_TRUE(slow->sync());

    std::vector<std::unique_ptr<WsClient>> fast;
    for (int i = 0; i < 3; ++i) {
        fast.push_back(WsClient::connect(herald.port()));
        ASSERT_TRUE(fast.back());
        fast.back()->add_group("feed");
        ASSERT_TRUE(fast.back()->sync());
    }
    std::vector<std::atomic<int>> received(fast.size());
    std::vector<std::thread> readers;
    for (std::size_t i = 0; i < fast.size(); ++i) {
        readers.emplace_back([&, i] {
            for (int m = 0; m < kMessages; ++m) {
                auto text = fast[i]->read_text(10000);
                if (!text || *text != std::to_string(m) + payload) return;
                ++received[i];
            }
        });
    }
    // The publisher paces itself to what the fast readers take (a window of 64 messages, 1 MiB),
    // so only the reader that never reads falls behind.
    auto publisher = WsClient::connect(herald.port());
    ASSERT_TRUE(publisher);
    const auto slowest = [&] {
        int min = kMessages;
        for (const auto& r : received) min = std::min(min, r.load());
        return min;
    };
    for (int m = 0; m < kMessages; ++m) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (m - slowest() >= 48 && std::chrono::steady_clock::now() < deadline) usleep(200);
        ASSERT_TRUE(publisher->send_to_group("feed", std::to_string(m) + payload));
    }
    for (auto& t : readers) t.join();
    for (int r : received) EXPECT_EQ(r, kMessages);
    EXPECT_EQ(stats_total(herald.port(), "closes_backpressure"), 1u);
    EXPECT_TRUE(slow->wait_eof(5000)) << "the slow reader's connection is ended";
}

}  // namespace
}  // namespace herald::test
