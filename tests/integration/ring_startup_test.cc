// Publishing at once after start-up, with a hub whose reader slot may not be reading yet: no
// worker may stay congested (holding its clients' input) for good. A regression test for a
// worker that held its publishers back for ever behind a reader that never read.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

TEST(RingStartup, PublishingAtOnceWithAHubNeverLeavesAWorkerCongested) {
    const std::uint16_t cluster = free_port();
    ASSERT_NE(cluster, 0);
    HeraldProcess herald({"--workers", "2", "--ring-size", "64KiB", "--ring-stall", "500ms",
                          "--node-id", "1", "--cluster-listen",
                          "127.0.0.1:" + std::to_string(cluster)});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    // Clients on both workers, at once.
    std::vector<std::unique_ptr<WsClient>> clients;
    std::map<int, int> on;
    for (int attempt = 0; attempt < 200 && clients.size() < 4; ++attempt) {
        auto ws = WsClient::connect(herald.port());
        if (!ws) continue;
        const int w = std::stoi(ws->response_header("x-herald-worker"));
        if (on[w] >= 2) continue;
        ++on[w];
        clients.push_back(std::move(ws));
    }
    ASSERT_EQ(clients.size(), 4u);
    for (auto& c : clients) c->add_group("start");
    for (auto& c : clients) ASSERT_TRUE(c->sync(10000));
    // Far more than the 64 KiB ring holds, published before anyone reads.
    constexpr int kMessages = 2000;
    const std::string pad(300, 'x');
    for (int i = 0; i < kMessages; ++i) {
        ASSERT_TRUE(clients[0]->send_to_group("start", std::to_string(i) + "-" + pad));
    }
    for (std::size_t k = 0; k < clients.size(); ++k) {
        for (int i = 0; i < kMessages; ++i) {
            auto text = clients[k]->read_text(10000);
            ASSERT_TRUE(text) << "client " << k << " message " << i;
            ASSERT_EQ(text->substr(0, text->find('-')), std::to_string(i)) << "client " << k;
        }
    }
    // Every client is still served: a round trip each, and another round of messages.
    for (auto& c : clients) ASSERT_TRUE(c->sync(10000));
    clients[1]->send_to_group("start", "again");
    for (auto& c : clients) EXPECT_EQ(c->read_text(10000), "again");
}

}  // namespace
}  // namespace herald::test
