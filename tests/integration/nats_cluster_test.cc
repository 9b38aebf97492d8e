// --engine nats: three herald hosts (separate herald processes, node ids 1..3), each a master,
// two workers and a hub whose NATS connection goes to its own server of a real three-server
// NATS cluster (Debian's nats-server, routed) on 127.0.0.1.
#include "tests/support/nats_cluster.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds limit = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ok()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ok();
}

struct NatsHost {
    std::uint16_t api_port = 0;
    std::unique_ptr<HeraldProcess> herald;

    // The hub's "nats" object's counter `name` in GET /stats (0 when absent).
    std::uint64_t nats(const std::string& name) const {
        const std::string s = http_get_body(api_port, "/stats");
        const std::size_t at = s.find("\"nats\":{");
        const std::size_t v = at == std::string::npos ? at : s.find("\"" + name + "\":", at);
        return v == std::string::npos ? 0
                                      : std::strtoull(s.c_str() + v + name.size() + 3, nullptr, 10);
    }
    std::unique_ptr<WsClient> member(const std::string& group) const {
        auto ws = WsClient::connect(herald->port());
        if (ws) ws->add_group(group);
        if (ws) ws->sync();
        return ws;
    }
};

class NatsHosts {
  public:
    explicit NatsHosts(const NatsCluster& nats, int n = 3) {
        for (int i = 0; i < n; ++i) {
            NatsHost h;
            h.api_port = nats_free_port();
            h.herald = std::make_unique<HeraldProcess>(std::vector<std::string>{
                "--workers", "2", "--node-id", std::to_string(i + 1), "--engine", "nats",
                "--nats-url", nats.urls(static_cast<std::size_t>(i)), "--api-listen",
                "127.0.0.1:" + std::to_string(h.api_port)});
            hosts.push_back(std::move(h));
        }
    }
    // Every hub is up and its NATS connection is ready (/readyz answers 200).
    bool ready() const {
        for (const NatsHost& h : hosts) {
            if (!h.herald->ok()) return false;
            const bool up = eventually([&] {
                return http_exchange(h.api_port,
                                     "GET /readyz HTTP/1.1\r\nHost: h\r\n"
                                     "Connection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 200");
            });
            if (!up) return false;
        }
        return true;
    }
    std::vector<NatsHost> hosts;
};

// Reads `member`'s frames until it has seen a text frame starting with each of `tags`
// (publishers keep probing meanwhile through `probe`): the subscriptions are live across the
// NATS cluster. False after 15 s.
bool probe_until_seen(const std::vector<WsClient*>& members, const std::vector<std::string>& tags,
                      const std::function<void()>& probe) {
    std::vector<std::set<std::string>> seen(members.size());
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        probe();
        bool all = true;
        for (std::size_t m = 0; m < members.size(); ++m) {
            while (auto f = members[m]->read_frame(20)) {
                if (f->opcode == net::Opcode::kText) seen[m].insert(f->payload);
            }
            for (const std::string& t : tags) all = all && seen[m].contains(t);
        }
        if (all) return true;
    }
    return false;
}

TEST(NatsCluster, EveryMemberGetsEveryPublishInOrderAndIdleHostsGetNone) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats;
    ASSERT_TRUE(nats.ok()) << "the NATS cluster did not route";
    NatsHosts c(nats);
    ASSERT_TRUE(c.ready());
    // "g": a member on every host. "h": members on hosts 1 and 2 only (host 3 has none).
    std::vector<std::unique_ptr<WsClient>> g, h, pubs;
    for (const NatsHost& host : c.hosts) {
        g.push_back(host.member("g"));
        pubs.push_back(WsClient::connect(host.herald->port()));
    }
    h.push_back(c.hosts[0].member("h"));
    h.push_back(c.hosts[1].member("h"));
    for (auto& p : pubs) ASSERT_TRUE(p);
    std::vector<WsClient*> members = {g[0].get(), g[1].get(), g[2].get(), h[0].get(), h[1].get()};
    ASSERT_TRUE(probe_until_seen(members, {"p0", "p1", "p2"}, [&] {
        for (std::size_t p = 0; p < pubs.size(); ++p) {
            pubs[p]->send_to_group("g", "p" + std::to_string(p));
            pubs[p]->send_to_group("h", "p" + std::to_string(p));
        }
    }));
    constexpr int kEach = 1000;
    for (int n = 0; n < kEach; ++n) {
        for (std::size_t p = 0; p < pubs.size(); ++p) {
            const std::string body = std::to_string(p) + ":" + std::to_string(n);
            ASSERT_TRUE(pubs[p]->send_to_group("g", body));
            ASSERT_TRUE(pubs[p]->send_to_group("h", body));
        }
    }
    // Each member: every publisher's 1000 in order (probes before them skipped), then quiet.
    for (std::size_t m = 0; m < members.size(); ++m) {
        std::vector<int> next(pubs.size(), 0);
        int got = 0;
        while (got < kEach * static_cast<int>(pubs.size())) {
            const std::optional<std::string> text = members[m]->read_text(10000);
            ASSERT_TRUE(text) << "member " << m << " got " << got;
            if ((*text)[0] == 'p') continue;
            const std::size_t colon = text->find(':');
            const std::size_t p = std::stoul(text->substr(0, colon));
            ASSERT_EQ(std::stoi(text->substr(colon + 1)), next[p]) << "member " << m;
            ++next[p];
            ++got;
        }
    }
    // Host 3 has no member of "h": its hub never received one (only "g" from hosts 1 and 2).
    EXPECT_EQ(c.hosts[2].nats("subscriptions"), 1u);
    const std::uint64_t in3 = c.hosts[2].nats("msgs_in");
    EXPECT_GE(in3, 2u * kEach);
    EXPECT_LT(in3, 2u * kEach + 2000u);  // the probes, which are "g" too
    EXPECT_GE(c.hosts[0].nats("msgs_in"), 4u * kEach);
    for (const NatsHost& host : c.hosts) {
        EXPECT_EQ(host.nats("gaps"), 0u);
        EXPECT_EQ(host.nats("bad_messages"), 0u);
    }
}

TEST(NatsCluster, GroupIdsWithSubjectCharactersRouteToTheirOwnGroupOnly) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats;
    ASSERT_TRUE(nats.ok()) << "the NATS cluster did not route";
    NatsHosts c(nats, 2);
    ASSERT_TRUE(c.ready());
    const std::vector<std::string> groups = {"a",
                                             "a.b",
                                             "a.*",
                                             "a.>",
                                             "*",
                                             ">",
                                             "a b",
                                             "a.",
                                             ".a",
                                             "\xF0\x9F\x8E\x89",
                                             "a\xF0\x9F\x8E\x89.b",
                                             ""};
    std::vector<std::unique_ptr<WsClient>> owned;
    std::vector<WsClient*> members;
    for (const std::string& g : groups) {
        owned.push_back(c.hosts[1].member(g));
        ASSERT_TRUE(owned.back());
        members.push_back(owned.back().get());
    }
    auto pub = WsClient::connect(c.hosts[0].herald->port());
    ASSERT_TRUE(pub);
    // Each member must see its own group's probe: "p" + the group id.
    for (std::size_t i = 0; i < groups.size(); ++i) {
        ASSERT_TRUE(probe_until_seen({members[i]}, {"p" + groups[i]},
                                     [&] { pub->send_to_group(groups[i], "p" + groups[i]); }));
    }
    for (int round = 0; round < 3; ++round) {
        for (const std::string& g : groups) ASSERT_TRUE(pub->send_to_group(g, "m" + g));
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        int got = 0;
        while (got < 3) {
            const std::optional<std::string> text = members[i]->read_text(10000);
            ASSERT_TRUE(text) << "group " << groups[i];
            if ((*text)[0] == 'p') {
                EXPECT_EQ(*text, "p" + groups[i]);
                continue;
            }
            EXPECT_EQ(*text, "m" + groups[i]);
            ++got;
        }
        EXPECT_TRUE(members[i]->quiet_for(200)) << groups[i];
    }
    EXPECT_EQ(c.hosts[1].nats("subscriptions"), groups.size());
    EXPECT_EQ(c.hosts[1].nats("bad_messages"), 0u);
}

}  // namespace
}  // namespace herald::test
