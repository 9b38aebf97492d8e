// --engine nats under faults: the NATS server a host is connected to killed (-9) mid-stream,
// and interest churn of 10,000 groups. A real three-server NATS cluster (Debian's nats-server)
// and herald hosts on 127.0.0.1, as tests/integration/nats_cluster_test.cc.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

// What one member saw: per publisher, how many real messages in order, and how it ended.
struct Seen {
    std::vector<int> next;  // the next expected number per publisher
    bool in_order = true;
    std::uint16_t closed = 0;  // the close code, 0 while open
};

// Reads `ws` until it is closed or has every publisher's `each` messages; probes skipped.
Seen read_member(WsClient& ws, std::size_t publishers, int each) {
    Seen s;
    s.next.assign(publishers, 0);
    int got = 0;
    while (got < each * static_cast<int>(publishers)) {
        const std::optional<Frame> f = ws.read_frame(20000);
        if (!f) {
            s.closed = 1006;
            break;
        }
        if (f->opcode == net::Opcode::kClose) {
            s.closed = f->close_code();
            break;
        }
        if (f->opcode != net::Opcode::kText || f->payload[0] == 'p') continue;
        const std::size_t colon = f->payload.find(':');
        const std::size_t p = std::stoul(f->payload.substr(0, colon));
        s.in_order = s.in_order && std::stoi(f->payload.substr(colon + 1)) == s.next[p];
        s.next[p] = std::stoi(f->payload.substr(colon + 1)) + 1;
        ++got;
    }
    return s;
}

TEST(NatsFaults, KilledServerMeansEverythingOr1013AndCountersAgree) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats;
    ASSERT_TRUE(nats.ok()) << "the NATS cluster did not route";
    NatsHosts c(nats);
    ASSERT_TRUE(c.ready());
    std::vector<std::unique_ptr<WsClient>> members, pubs;
    for (const NatsHost& host : c.hosts) {
        members.push_back(host.member("k"));
        pubs.push_back(WsClient::connect(host.herald->port()));
        ASSERT_TRUE(members.back() && pubs.back());
    }
    std::vector<WsClient*> all = {members[0].get(), members[1].get(), members[2].get()};
    ASSERT_TRUE(probe_until_seen(all, {"p0", "p1", "p2"}, [&] {
        for (std::size_t p = 0; p < pubs.size(); ++p)
            pubs[p]->send_to_group("k", "p" + std::to_string(p));
    }));
    // Readers run while the stream flows (a closed member's socket must not fill up).
    constexpr int kEach = 3000;
    std::vector<Seen> seen(members.size());
    std::vector<std::thread> readers;
    for (std::size_t m = 0; m < members.size(); ++m)
        readers.emplace_back([&, m] { seen[m] = read_member(*members[m], pubs.size(), kEach); });
    for (int n = 0; n < kEach; ++n) {
        for (std::size_t p = 0; p < pubs.size(); ++p)
            ASSERT_TRUE(pubs[p]->send_to_group("k", std::to_string(p) + ":" + std::to_string(n)));
        if (n == kEach / 3) nats.kill_server(nats.servers[0], SIGKILL);  // host 1's server
        if (n % 100 == 0) std::this_thread::sleep_for(5ms);              // a stream, not a burst
    }
    // Host 1 reconnects to another server.
    EXPECT_TRUE(nats_eventually([&] { return c.hosts[0].nats("reconnects") >= 1; }, 30s));
    const std::string dead = "\"server\":\"" + nats.servers[0].url() + "\"";
    EXPECT_TRUE(nats_eventually([&] {
        const std::string stats = http_get_body(c.hosts[0].api_port, "/stats");
        return stats.find("\"nats\":{\"connected\":true") != std::string::npos &&
               stats.find(dead) == std::string::npos;
    }));
    for (std::thread& t : readers) t.join();
    for (std::size_t m = 0; m < members.size(); ++m) {
        const Seen& s = seen[m];
        bool complete = true;
        for (const int next : s.next) complete = complete && next == kEach;
        std::printf("host %zu: closed %u, received", m + 1, s.closed);
        for (const int next : s.next) std::printf(" %d", next);
        std::printf("\n");
        const std::string stats = http_get_body(c.hosts[m].api_port, "/stats");
        std::printf("  %s\n", stats.substr(stats.find("\"nats\""), 400).c_str());
        EXPECT_TRUE(s.in_order) << "host " << m + 1;
        EXPECT_TRUE(complete || s.closed == 1013) << "host " << m + 1 << " closed " << s.closed;
        // The counters agree with what the client saw: one member of "k" per host.
        const std::uint64_t closes = stats_total(c.hosts[m].herald->port(), "closes_lost_remote");
        EXPECT_EQ(closes, s.closed == 1013 ? 1u : 0u) << "host " << m + 1;
        if (s.closed == 1013) {
            EXPECT_GE(c.hosts[m].nats("gaps") + c.hosts[m].nats("lost_all") +
                          c.hosts[m].nats("dropped_in"),
                      1u);
        }
    }
    // Host 1 was disconnected with a member: it closed it rather than leave a silent hole (on
    // the reconnection, or on a gap it saw first).
    EXPECT_EQ(seen[0].closed, 1013);
    // And the engine carries on: fresh members on every host hear every host.
    std::vector<std::unique_ptr<WsClient>> fresh;
    for (const NatsHost& host : c.hosts) fresh.push_back(host.member("after"));
    EXPECT_TRUE(
        probe_until_seen({fresh[0].get(), fresh[1].get(), fresh[2].get()}, {"p0", "p1", "p2"}, [&] {
            for (std::size_t p = 0; p < pubs.size(); ++p)
                pubs[p]->send_to_group("after", "p" + std::to_string(p));
        }));
}

TEST(NatsFaults, TenThousandGroupsChurnedEndWithNoSubscriptions) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats;
    ASSERT_TRUE(nats.ok()) << "the NATS cluster did not route";
    NatsHosts c(nats, 1);
    ASSERT_TRUE(c.ready());
    auto ws = WsClient::connect(c.hosts[0].herald->port());
    ASSERT_TRUE(ws);
    constexpr int kGroups = 10000;
    constexpr int kBatch = 500;  // under --max-groups-per-conn's default 1024
    std::uint64_t peak = 0;
    for (int first = 0; first < kGroups; first += kBatch) {
        for (int g = first; g < first + kBatch; ++g)
            ASSERT_TRUE(ws->add_group("c" + std::to_string(g)));
        ASSERT_TRUE(ws->sync(10000));
        if (first == 0) {
            EXPECT_TRUE(nats_eventually([&] {
                peak = c.hosts[0].nats("subscriptions");
                return peak == static_cast<std::uint64_t>(kBatch);
            }));
        }
        for (int g = first; g < first + kBatch; ++g) {
            ASSERT_TRUE(ws->send_text("{\"cmd\":\"leave_group\",\"group_id\":\"c" +
                                      std::to_string(g) + "\"}"));
        }
        ASSERT_TRUE(ws->sync(10000));
    }
    EXPECT_EQ(peak, static_cast<std::uint64_t>(kBatch));
    EXPECT_TRUE(nats_eventually([&] { return c.hosts[0].nats("subscriptions") == 0; }, 30s));
    EXPECT_TRUE(nats_eventually([&] { return hub_subscriptions(nats, 0, 1) == 0; }, 30s))
        << http_get_body(nats.servers[0].monitor, "/connz?subs=1");
    EXPECT_EQ(c.hosts[0].nats("subscribe_errors"), 0u);
}

}  // namespace
}  // namespace herald::test
