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
#include "tests/support/tls_test_pki.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

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

TEST(NatsCluster, ReadyzFailsWhileNatsIsDownAndPassesOnceItIsUp) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats(1);
    ASSERT_TRUE(nats.ok());
    nats.kill_server(nats.servers[0], SIGKILL);
    const std::uint16_t api = free_port();
    HeraldProcess herald({"--workers", "2", "--engine", "nats", "--nats-url", nats.urls(0),
                          "--api-listen", "127.0.0.1:" + std::to_string(api)});
    ASSERT_TRUE(herald.ok());
    const auto readyz = [&] {
        return http_exchange(api, "GET /readyz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    };
    // Workers become ready; the hub stays not ready while no NATS server answers.
    EXPECT_TRUE(nats_eventually([&] { return readyz().find("\"ready\":2") != std::string::npos; }));
    const std::string down = readyz();
    EXPECT_TRUE(down.starts_with("HTTP/1.1 503")) << down;
    EXPECT_NE(down.find("\"nats\":{\"connected\":false"), std::string::npos) << down;
    EXPECT_NE(http_get_body(api, "/metrics").find("herald_nats_connected{server=\"\"} 0"),
              std::string::npos);
    nats.start(0);
    EXPECT_TRUE(nats_eventually([&] { return readyz().starts_with("HTTP/1.1 200"); }, 20s))
        << readyz();
    const std::string stats = http_get_body(api, "/stats");
    EXPECT_NE(stats.find("\"engine\":\"nats\""), std::string::npos);
    EXPECT_NE(stats.find("\"server\":\"" + nats.servers[0].url() + "\""), std::string::npos)
        << stats;
}

// /readyz of a herald on `api` answers 200 within `limit`.
bool ready_within(std::uint16_t api, std::chrono::milliseconds limit) {
    return nats_eventually(
        [&] {
            return http_exchange(api,
                                 "GET /readyz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .starts_with("HTTP/1.1 200");
        },
        limit);
}

// A one-worker herald hub on NATS at `url` (plus `extra`), its admin listener on `api`.
std::unique_ptr<HeraldProcess> nats_herald(const std::string& url, std::uint16_t api,
                                           std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--workers",  "1", "--engine",     "nats",
        "--nats-url", url, "--api-listen", "127.0.0.1:" + std::to_string(api)};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<HeraldProcess>(args);
}

TEST(NatsCluster, UserPasswordInTheUrlAuthenticatesAndIsNotShown) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats(1, {"--user", "hub", "--pass", "s3cret"});
    ASSERT_TRUE(nats.ok());
    const std::string port = std::to_string(nats.servers[0].client);
    const std::uint16_t good_api = free_port(), bad_api = free_port();
    auto good = nats_herald("nats://hub:s3cret@127.0.0.1:" + port, good_api);
    auto bad = nats_herald("nats://hub:wrong@127.0.0.1:" + port, bad_api);
    ASSERT_TRUE(good->ok() && bad->ok());
    EXPECT_TRUE(ready_within(good_api, 15s));
    const std::string stats = http_get_body(good_api, "/stats");
    EXPECT_NE(stats.find("\"server\":\"nats://127.0.0.1:" + port + "\""), std::string::npos)
        << stats;
    EXPECT_EQ(stats.find("s3cret"), std::string::npos);
    EXPECT_FALSE(ready_within(bad_api, 1s));  // refused by the server: never ready
}

TEST(NatsCluster, TlsUrlVerifiesTheServerAgainstNatsCa) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    TestPki pki;
    NatsCluster nats(
        1, {"--tls", "--tlscert", pki.path("server.pem"), "--tlskey", pki.path("server.key")});
    ASSERT_TRUE(nats.ok());
    const std::string url = "tls://127.0.0.1:" + std::to_string(nats.servers[0].client);
    const std::uint16_t trusted_api = free_port(), untrusted_api = free_port();
    auto trusted = nats_herald(url, trusted_api, {"--nats-ca", pki.path("ca.pem")});
    auto untrusted = nats_herald(url, untrusted_api);  // the system's CAs do not know it
    ASSERT_TRUE(trusted->ok() && untrusted->ok());
    EXPECT_TRUE(ready_within(trusted_api, 15s));
    EXPECT_FALSE(ready_within(untrusted_api, 1s));
}

// HPUB of `payload` to `subject` with `headers` ("K: V\r\n" lines).
std::string hpub(const std::string& subject, const std::string& headers,
                 const std::string& payload) {
    const std::string head = "NATS/1.0\r\n" + headers + "\r\n";
    return "HPUB " + subject + " " + std::to_string(head.size()) + " " +
           std::to_string(head.size() + payload.size()) + "\r\n" + head + payload + "\r\n";
}

TEST(NatsCluster, ForeignMessagesOnAGroupSubjectAreDroppedAndCounted) {
    if (access(kNatsServer, X_OK) != 0) GTEST_SKIP() << "nats-server is not installed";
    NatsCluster nats(1);
    ASSERT_TRUE(nats.ok());
    NatsHosts c(nats, 1);
    ASSERT_TRUE(c.ready());
    auto member = c.hosts[0].member("g");  // subject herald.herald.g.Zw
    ASSERT_TRUE(member);
    ASSERT_TRUE(nats_eventually([&] { return hub_subscriptions(nats, 0, 1) == 1; }));
    const std::string subject = "herald.herald.g.Zw";
    const std::string good = "Herald-Origin: 9\r\nHerald-Incarnation: 5\r\n";
    const std::string said = nats_raw_client(
        nats.servers[0].client,
        "PUB " + subject + " 2\r\nno\r\n" +                                         // no headers
            hpub(subject, "Herald-Origin: x\r\nHerald-Incarnation: 1\r\n", "no") +  // bad origin
            hpub(subject, good + "Herald-Seq: 0\r\nHerald-Prev: 0\r\n", "no") +     // seq 0
            hpub(subject, good + "Herald-Seq: 7\r\n", "no") +                       // no Prev
            hpub("herald.herald.g.Zw=", good + "Herald-Seq: 1\r\nHerald-Prev: 0\r\n", "no") +
            hpub(subject, good + "Herald-Seq: 3\r\nHerald-Prev: 0\r\n", "yes"));
    ASSERT_NE(said.find("PONG"), std::string::npos) << said;
    // Only the message with valid herald headers reaches the member (any origin may publish).
    const std::optional<std::string> text = member->read_text(5000);
    EXPECT_EQ(text.value_or("(none)"), "yes");
    EXPECT_TRUE(member->quiet_for(200));
    EXPECT_TRUE(nats_eventually([&] { return c.hosts[0].nats("bad_messages") == 4; }))
        << c.hosts[0].nats("bad_messages");
    EXPECT_EQ(c.hosts[0].nats("msgs_in"), 1u);
}

}  // namespace
}  // namespace herald::test
