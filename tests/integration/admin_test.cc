// The admin/API listener of a real herald (--admin-listen, libmicrohttpd in the hub's loop),
// driven with raw sockets: each failure of the hand-written server (issue 16) with the right
// answer, the endpoints, and GET /stats on the WebSocket port (--stats-on-ws-port).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP connection from `source` (a loopback address) to 127.0.0.1:port; -1 on failure.
int connect_from(const char* source, std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source, &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return close(fd), -1;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return close(fd), -1;
    return fd;
}

bool send_all(int fd, const std::string& s) {
    return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// Reads from fd until `until` is in what arrived, the peer closes, or timeout_ms passes.
std::string read_until(int fd, const std::string& until, int timeout_ms) {
    std::string out;
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (out.find(until) == std::string::npos && Clock::now() < end) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string publish_request(const std::string& target, const std::string& body,
                            const std::string& extra = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

bool starts(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// A herald with one worker and the admin listener (a hub), plus a member of group "g".
class Admin {
  public:
    explicit Admin(std::vector<std::string> extra = {}) : admin(free_port()) {
        std::vector<std::string> args = {"--workers", "1", "--admin-listen",
                                         "127.0.0.1:" + std::to_string(admin)};
        args.insert(args.end(), extra.begin(), extra.end());
        herald = std::make_unique<HeraldProcess>(args);
    }
    // Waits (up to 10 s) for GET /healthz to answer 200.
    bool up() const {
        const auto end = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < end) {
            if (starts(get("/healthz"), "HTTP/1.1 200")) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
    std::string http(const std::string& request, int timeout_ms = 3000) const {
        return http_exchange(admin, request, timeout_ms);
    }
    std::string get(const std::string& path) const {
        return http("GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    }
    std::unique_ptr<WsClient> member(const std::string& group) const {
        auto ws = WsClient::connect(herald->port());
        if (ws) ws->add_group(group);
        if (ws) ws->sync();
        return ws;
    }
    // The hub's pid, from the "processes" of the admin /stats (-1 when absent).
    pid_t hub_pid() const {
        const std::string s = get("/stats");
        const std::size_t at = s.find("\"role\":\"hub\"");
        if (at == std::string::npos) return -1;
        const std::size_t entry = s.rfind('{', at);
        const std::size_t pid = s.find("\"pid\":", entry);
        return static_cast<pid_t>(std::strtol(s.c_str() + pid + 6, nullptr, 10));
    }

    std::uint16_t admin;
    std::unique_ptr<HeraldProcess> herald;
};

long rss_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10) * 1024;
    }
    return -1;
}

const std::string kBody = R"({"group_id":"g","message":"hi"})";

TEST(Admin, TwoHostLinesOrNoHostAre400) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto m = a.member("g");
    EXPECT_TRUE(
        starts(a.http(publish_request("/publish", kBody, "Host: other\r\n")), "HTTP/1.1 400"));
    EXPECT_TRUE(starts(a.http("GET /stats HTTP/1.1\r\nConnection: close\r\n\r\n"), "HTTP/1.1 400"));
    EXPECT_TRUE(m->quiet_for(200));  // the two-Host publish was not published
}

TEST(Admin, AbsoluteFormAndQueryStringsArePublished) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto m = a.member("g");
    const std::string absolute = "http://127.0.0.1:" + std::to_string(a.admin) + "/publish";
    EXPECT_TRUE(starts(a.http(publish_request(absolute, kBody)), "HTTP/1.1 202"));
    EXPECT_EQ(m->read_text(3000), "hi");
    EXPECT_TRUE(starts(a.http(publish_request("/publish?src=cron", kBody)), "HTTP/1.1 202"));
    EXPECT_EQ(m->read_text(3000), "hi");
}

// curl sends Expect: 100-continue and waits (1 s) for the 100 before the body: it must come
// before any body byte is sent.
TEST(Admin, Expect100ContinueIsAnsweredBeforeTheBody) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto m = a.member("g");
    const int fd = tcp_connect(a.admin);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd,
                         "POST /publish HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                         "Content-Length: " +
                             std::to_string(kBody.size()) + "\r\n\r\n"));
    const std::string interim = read_until(fd, "\r\n\r\n", 5000);
    EXPECT_TRUE(starts(interim, "HTTP/1.1 100")) << interim;
    ASSERT_TRUE(send_all(fd, kBody));
    EXPECT_TRUE(starts(read_until(fd, "accepted", 5000), "HTTP/1.1 202"));
    EXPECT_EQ(m->read_text(3000), "hi");
    close(fd);
}

TEST(Admin, ChunkedBodiesArePublished) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto m = a.member("g");
    char size[16];
    std::snprintf(size, sizeof size, "%zx", kBody.size() - 5);
    const std::string req =
        "POST /publish HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        std::string(size) + "\r\n" + kBody.substr(0, kBody.size() - 5) + "\r\n5\r\n" +
        kBody.substr(kBody.size() - 5) + "\r\n0\r\n\r\n";
    EXPECT_TRUE(starts(a.http(req), "HTTP/1.1 202"));
    EXPECT_EQ(m->read_text(3000), "hi");
}

TEST(Admin, KeepAliveServesSeveralRequestsOnOneConnection) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto m = a.member("g");
    const std::string keep =
        "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(kBody.size()) +
        "\r\n\r\n" + kBody;
    const std::string out =
        a.http(keep + keep + "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(starts(out, "HTTP/1.1 202")) << out;
    EXPECT_NE(out.find("HTTP/1.1 202", 10), std::string::npos);
    EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos);
    EXPECT_EQ(m->read_text(3000), "hi");
    EXPECT_EQ(m->read_text(3000), "hi");
}

TEST(Admin, BatchIsDeliveredToMembersWithOneStatus) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    auto g = a.member("g");
    auto h = a.member("h");
    const std::string batch =
        R"({"messages":[{"group_id":"g","message":"one"},{"group_id":"h","message":"two"},)"
        R"({"group_id":"g","message":"three"}]})";
    const std::string out = a.http(publish_request("/publish", batch));
    EXPECT_TRUE(starts(out, "HTTP/1.1 202")) << out;
    EXPECT_EQ(out.find("HTTP/1.1", 5), std::string::npos);  // one status
    EXPECT_EQ(g->read_text(3000), "one");
    EXPECT_EQ(g->read_text(3000), "three");
    EXPECT_EQ(h->read_text(3000), "two");
}

TEST(Admin, HealthReadinessStatsAndMetricsAreServed) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    const std::string ready = a.get("/readyz");
    EXPECT_TRUE(starts(ready, "HTTP/1.1 200")) << ready;
    EXPECT_NE(ready.find("\"workers\":{\"ready\":1,\"total\":1}"), std::string::npos) << ready;
    const std::string stats = a.get("/stats");
    EXPECT_TRUE(starts(stats, "HTTP/1.1 200"));
    EXPECT_NE(stats.find("\"api_publishes\":"), std::string::npos);
    EXPECT_NE(stats.find("\"role\":\"worker\""), std::string::npos);
    auto m = a.member("g");
    const std::string metrics = a.get("/metrics");
    EXPECT_TRUE(starts(metrics, "HTTP/1.1 200"));
    EXPECT_NE(metrics.find("herald_upgrades_total{worker=\"0\"} 1\n"), std::string::npos);
    EXPECT_NE(metrics.find("herald_handshake_duration_seconds_count{worker=\"0\"} 1\n"),
              std::string::npos);
    EXPECT_NE(metrics.find("herald_admin_requests_total "), std::string::npos);
    EXPECT_NE(metrics.find("herald_hub_api_publishes_total 0\n"), std::string::npos);
    // The cluster port's handshake and limit counters.
    for (const char* name :
         {"herald_hub_hello_auth_failed_total 0\n", "herald_hub_hello_refused_duplicate_total 0\n",
          "herald_hub_hello_refused_own_id_total 0\n", "herald_hub_hello_timeouts_total 0\n",
          "herald_hub_slow_consumer_closes_total 0\n", "herald_hub_subscribe_refused_total 0\n",
          "herald_hub_interest_overflows_total 0\n", "herald_hub_forgotten_peers_total 0\n",
          "herald_hub_accept_pauses_total 0\n", "herald_hub_peer_interest_entries 0\n"}) {
        EXPECT_NE(metrics.find(name), std::string::npos) << name;
    }
    EXPECT_NE(stats.find("\"hello_refused_duplicate\":0"), std::string::npos);
}

// One connection pipelines GET /stats and never reads (the hand-written server grew to over
// 0.5 GB in 3 s): MHD reads no further while an answer is unsent.
TEST(Admin, PipeliningClientThatNeverReadsKeepsTheHubBounded) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    const pid_t hub = a.hub_pid();
    ASSERT_GT(hub, 0);
    const long before = rss_of(hub);
    const int fd = tcp_connect(a.admin);
    std::string burst;
    for (int i = 0; i < 256; ++i) burst += "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
    const auto end = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < end) {
        if (send(fd, burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT) <= 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    const long grown = rss_of(hub) - before;
    std::printf("hub RSS before %ld bytes, grown by %ld bytes\n", before, grown);
    EXPECT_LT(grown, 64l << 20);
    close(fd);
    EXPECT_TRUE(starts(a.get("/healthz"), "HTTP/1.1 200"));
}

// 256 connections from another address each send an incomplete head and trickle a header line:
// the per-IP cap keeps them from the backend's address, which publishes meanwhile.
TEST(Admin, TricklingHeadsDoNotLockABackendOut) {
    Admin a;
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    std::vector<int> fds;
    for (int i = 0; i < 256; ++i) {
        const int fd = connect_from("127.0.0.5", a.admin);
        if (fd >= 0) fds.push_back(fd);
        if (fd >= 0) send_all(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n");
    }
    for (int round = 0; round < 3; ++round) {
        for (int fd : fds) send(fd, "X-Trickle: 1\r\n", 14, MSG_NOSIGNAL | MSG_DONTWAIT);
        EXPECT_TRUE(starts(a.http(publish_request("/publish", kBody)), "HTTP/1.1 202"));
    }
    for (int fd : fds) close(fd);
}

// Without a per-IP cap, trickling heads from the backend's own address fill the connection cap
// only until --admin-request-timeout shuts them: a publish then gets 202.
TEST(Admin, TricklingHeadsAreShutAtTheRequestTimeout) {
    Admin a({"--admin-max-conns-per-ip", "0", "--admin-request-timeout", "1s"});
    ASSERT_TRUE(a.herald->ok() && a.up()) << a.herald->stderr_text();
    std::vector<int> fds;
    for (int i = 0; i < 256; ++i) {
        const int fd = tcp_connect(a.admin);
        if (fd >= 0) fds.push_back(fd);
        if (fd >= 0) send_all(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n");
    }
    bool published = false;
    const auto end = Clock::now() + std::chrono::seconds(15);
    while (!published && Clock::now() < end) {
        for (int fd : fds) send(fd, "X-Trickle: 1\r\n", 14, MSG_NOSIGNAL | MSG_DONTWAIT);
        published = starts(a.http(publish_request("/publish", kBody), 1000), "HTTP/1.1 202");
        if (!published) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(published);
    for (int fd : fds) close(fd);
    EXPECT_NE(a.get("/metrics").find("herald_admin_deadline_closes_total "), std::string::npos);
}

TEST(Admin, ApiListenIsAnAliasOfAdminListen) {
    const std::uint16_t port = free_port();
    HeraldProcess herald({"--workers", "1", "--api-listen", "127.0.0.1:" + std::to_string(port)});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    std::string out;
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (!starts(out, "HTTP/1.1 200") && Clock::now() < end) {
        out = http_exchange(port, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    }
    EXPECT_TRUE(starts(out, "HTTP/1.1 200")) << out;
}

const char* kWsStats = "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

TEST(StatsOnWsPort, ServedByDefaultOnALoopbackListener) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    EXPECT_TRUE(starts(http_exchange(herald.port(), kWsStats), "HTTP/1.1 200"));
}

TEST(StatsOnWsPort, OffAnswersAsAnyPlainGet) {
    HeraldProcess herald({"--stats-on-ws-port", "off"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    const std::string out = http_exchange(herald.port(), kWsStats);
    EXPECT_TRUE(starts(out, "HTTP/1.1 426")) << out;
    EXPECT_EQ(out.find("\"workers\""), std::string::npos);
}

}  // namespace
}  // namespace herald::test
