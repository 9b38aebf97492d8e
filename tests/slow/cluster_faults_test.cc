// A slow test: 20 restarts of a crash-looping hub take the master's restart backoff (up to 5 s
// each), so the kill test runs for a minute or two.
//
// Three herald hosts (two for the tests that need no bystander), each in its own network
// namespace (tests/support/netns), under steady streams of numbered messages from publishers on
// host A to a member on host B and one on host C: the receiving hub and the sending hub killed
// with SIGKILL again and again, B's link cut for 2 s, and a cut longer than --peer-buffer holds.
// Each member must get every message once and in order, or be closed with 1013 after the last
// one it got. Where namespaces cannot be made, the hosts share loopback (127.0.0.2, .3, .4) and
// the tests that cut a link are skipped; each test says which it ran.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "channel/peer_auth.h"
#include "tests/support/herald_process.h"
#include "tests/support/netns.h"
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

std::uint64_t number_after(const std::string& json, std::size_t from, const std::string& name) {
    const std::size_t at = json.find("\"" + name + "\":", from);
    if (at == std::string::npos) return 0;
    return std::strtoull(json.c_str() + at + name.size() + 3, nullptr, 10);
}

constexpr std::uint16_t kClusterPort = 7000;
constexpr std::uint16_t kApiPort = 8080;

// The cluster secret both hosts share (their cluster addresses are not loopback).
std::string secret_file() {
    const std::string path = "/tmp/herald_cluster_faults_secret";
    std::ofstream(path) << "cluster-faults-test-secret-0123456789\n";
    return path;
}

// Hosts A (node 1), B (node 2) and, when asked, C (node 3), in namespaces when possible.
class Hosts {
  public:
    template <class Fn>
    auto in(int h, Fn&& fn) {
        if (netns_) return ns_.in(h, std::forward<Fn>(fn));
        return fn();
    }
    explicit Hosts(const std::vector<std::string>& extra, int count = 2)
        : ns_(count), herald_(static_cast<std::size_t>(count)) {
        netns_ = ns_.ok();
        std::printf("%d hosts: %s\n", count,
                    netns_ ? "network namespaces joined by veth pairs"
                           : ("loopback (" + ns_.error() + ")").c_str());
        std::string peers;
        for (int h = 0; h < count; ++h) {
            peers += (h == 0 ? "" : ",") + address(h) + ":" + std::to_string(kClusterPort);
        }
        for (int h = 0; h < count; ++h) {
            std::vector<std::string> args = {
                "--workers",        "2",
                "--node-id",        std::to_string(h + 1),
                "--cluster-listen", address(h) + ":" + std::to_string(kClusterPort),
                "--peers",          peers,
                "--api-listen",     address(h) + ":" + std::to_string(kApiPort),
                "--peer-timeout",   "1s"};
            if (std::find(extra.begin(), extra.end(), "--cluster-insecure") == extra.end()) {
                args.insert(args.end(), {"--cluster-secret", secret_file()});
            }
            args.insert(args.end(), extra.begin(), extra.end());
            herald_[i(h)] = in(h, [&] { return std::make_unique<HeraldProcess>(args); });
            herald_[i(h)]->allow_worker_deaths();
        }
    }
    bool netns() const { return netns_; }
    bool ok() const {
        return std::all_of(herald_.begin(), herald_.end(), [](const auto& p) { return p->ok(); });
    }
    // Every pair of hosts linked both ways.
    bool all_up() {
        for (int a = 0; a < static_cast<int>(herald_.size()); ++a) {
            for (int b = 0; b < static_cast<int>(herald_.size()); ++b) {
                if (a != b && !up(a, static_cast<std::uint32_t>(b + 1))) return false;
            }
        }
        return true;
    }
    std::string address(int h) const {
        return netns_ ? ns_.address(h) : "127.0.0." + std::to_string(2 + h);
    }
    bool cut(int h) { return ns_.cut(h); }
    bool heal(int h) { return ns_.heal(h); }
    HeraldProcess& herald(int h) { return *herald_[i(h)]; }
    std::string hub_stats(int h) {
        return in(h, [&] {
            const std::string out = http_exchange(
                kApiPort, "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 3000,
                address(h).c_str());
            const std::size_t body = out.find("\r\n\r\n");
            return body == std::string::npos ? std::string() : out.substr(body + 4);
        });
    }
    std::string worker_stats(int h) {
        return in(h, [&] {
            return http_exchange(herald_[i(h)]->port(),
                                 "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        });
    }
    // A counter of host h's hub entry for peer `node`.
    std::uint64_t peer(int h, std::uint32_t node, const std::string& name) {
        const std::string s = hub_stats(h);
        const std::size_t at = s.find("{\"node\":" + std::to_string(node) + ",");
        return at == std::string::npos ? 0 : number_after(s, at, name);
    }
    bool up(int h, std::uint32_t node) {
        const std::string s = hub_stats(h);
        const std::size_t at = s.find("{\"node\":" + std::to_string(node) + ",");
        return at != std::string::npos && s.find("\"state\":\"up\"", at) < s.find('}', at);
    }
    pid_t hub_pid(int h) {
        const std::string s = worker_stats(h);
        const std::size_t at = s.find("\"role\":\"hub\"");
        if (at == std::string::npos) return -1;
        return static_cast<pid_t>(number_after(s, s.rfind('{', at), "pid"));
    }
    // Kills host h's hub with SIGKILL; true once the master has started its successor.
    bool kill_hub(int h) {
        const pid_t hub = hub_pid(h);
        if (hub <= 0 || kill(hub, SIGKILL) != 0) return false;
        return eventually([&] {
            const pid_t now = hub_pid(h);
            return now > 0 && now != hub;
        });
    }
    std::unique_ptr<WsClient> client(int h) {
        return in(h, [&] { return WsClient::connect(herald_[i(h)]->port()); });
    }

  private:
    static std::size_t i(int h) { return static_cast<std::size_t>(h); }

    NetnsHosts ns_;  // destroyed after the processes
    bool netns_ = false;
    std::vector<std::unique_ptr<HeraldProcess>> herald_;
};

// A publisher on A sending "0", "1", ... to group "stream" about once per millisecond, and a
// member on B checking them.
struct Stream {
    std::unique_ptr<WsClient> member;
    std::unique_ptr<WsClient> publisher;
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    long received = 0;
    long duplicates = 0, missing = 0, reordered = 0;
    std::uint16_t closed = 0;
    // When set, a member closed with 1013 joins again through it and the stream goes on (the
    // close ends one session: within a session no message may be missing).
    std::function<std::unique_ptr<WsClient>()> rejoin;
    long closes_1013 = 0;
    std::thread pub, sub;

    std::string group = "stream";
    int host = 1;  // the member's

    // A member of `group_id` on host `member_host`, the publisher on host A.
    bool start(Hosts& h, int member_host = 1, std::string group_id = "stream") {
        host = member_host;
        group = std::move(group_id);
        member = h.client(host);
        publisher = h.client(0);
        if (!member || !publisher || !member->add_group(group) || !member->sync()) return false;
        const auto node = static_cast<std::uint32_t>(host + 1);
        if (!eventually([&] { return h.peer(0, node, "subscriptions") >= 1; })) return false;
        pub = std::thread([this] {
            while (!stop.load()) {
                publisher->send_to_group(group, std::to_string(sent.load()));
                sent.fetch_add(1);
                std::this_thread::sleep_for(1ms);
            }
            publisher->send_to_group(group, "end");
        });
        sub = std::thread([this] {
            long expect = 0;
            // Outages last seconds (the master backs off restarts of a crash-looping hub up to
            // 5 s, and A its redials): read until "end", a close, or a minute of silence.
            while (auto f = member->read_frame(60000)) {
                if (f->opcode == net::Opcode::kClose) {
                    closed = f->close_code();
                    if (!rejoin || closed != 1013) return;
                    ++closes_1013;
                    member = rejoin();
                    if (!member || !member->add_group(group) || !member->sync()) return;
                    expect = -1;  // a new session: it starts wherever the stream is
                    continue;
                }
                if (f->opcode == net::Opcode::kPing) {  // herald's heartbeat (--ping-interval)
                    member->send_frame(net::Opcode::kPong, f->payload);
                    continue;
                }
                if (f->payload == "end") return;
                const long n = std::stol(f->payload);
                ++received;
                if (expect < 0) expect = n;
                if (n < expect) ++duplicates;
                if (n > expect) ++missing;
                if (n != expect && n < expect - 1) ++reordered;
                expect = std::max(expect, n + 1);
            }
        });
        return true;
    }
    void finish() {
        stop.store(true);
        pub.join();
        sub.join();
        std::printf(
            "%s on host %c: sent %ld, received %ld, missing %ld, duplicated %ld, "
            "reordered %ld, closed %u, sessions closed with 1013 and joined again %ld\n",
            group.c_str(), 'A' + host, sent.load(), received, missing, duplicates, reordered,
            closed, closes_1013);
    }
};

constexpr int kKills = 20;

TEST(ClusterFaults, TheReceivingHubKilledTwentyTimesMidStreamLosesAndDuplicatesNothing) {
    Hosts h({}, 3);
    ASSERT_TRUE(h.ok()) << h.herald(0).stderr_text() << h.herald(1).stderr_text();
    ASSERT_TRUE(eventually([&] { return h.all_up(); }));
    Stream s, c;  // to B (whose hub is killed) and to C (a bystander)
    ASSERT_TRUE(s.start(h));
    ASSERT_TRUE(c.start(h, 2, "stream-c"));
    for (int kill_no = 0; kill_no < kKills; ++kill_no) {
        // Each kill lands mid-stream: the link is up and carrying frames for 0.3 s.
        ASSERT_TRUE(eventually([&] { return h.up(0, 2); }, 30s)) << "kill " << kill_no;
        std::this_thread::sleep_for(300ms);
        ASSERT_TRUE(h.kill_hub(1)) << "kill " << kill_no;
    }
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.peer(0, 2, "subscriptions") >= 1; }));
    std::this_thread::sleep_for(300ms);
    s.finish();
    c.finish();
    std::printf("A replayed %llu frames to B; B dropped %llu duplicates\n",
                static_cast<unsigned long long>(h.peer(0, 2, "replayed")),
                static_cast<unsigned long long>(h.peer(1, 1, "stale")));
    for (Stream* x : {&s, &c}) {
        EXPECT_EQ(x->closed, 0) << x->group;
        EXPECT_EQ(x->missing, 0) << x->group;
        EXPECT_EQ(x->duplicates, 0) << x->group;
        EXPECT_EQ(x->reordered, 0) << x->group;
        EXPECT_EQ(x->received, x->sent.load())
            << x->group << "\nA: " << h.hub_stats(0) << "\nB: " << h.hub_stats(1)
            << "\nB workers: " << h.worker_stats(1);
    }
}

// The sending hub: A's hub is killed mid-stream, 20 times. Its workers keep taking the
// publishers' messages; the restarted hub resumes reading their rings where the dead one
// stopped, takes its windows back from shared memory and numbers on. Nothing is lost,
// duplicated or reordered, and no member is closed. (Were a window not kept whole, B would see
// the gap and close the member with 1013: the streams would then join again and go on, and
// the test would still require no gap within a session; it counts such closes.)
TEST(ClusterFaults, TheSendingHubKilledTwentyTimesMidStreamLosesAndDuplicatesNothing) {
    Hosts h({}, 3);
    ASSERT_TRUE(h.ok()) << h.herald(0).stderr_text() << h.herald(1).stderr_text();
    ASSERT_TRUE(eventually([&] { return h.all_up(); }));
    Stream s, c;  // from A to B and to C
    s.rejoin = [&] { return h.client(1); };
    c.rejoin = [&] { return h.client(2); };
    ASSERT_TRUE(s.start(h));
    ASSERT_TRUE(c.start(h, 2, "stream-c"));
    for (int kill_no = 0; kill_no < kKills; ++kill_no) {
        ASSERT_TRUE(eventually([&] { return h.up(1, 1) && h.up(2, 1); }, 30s))
            << "kill " << kill_no;
        std::this_thread::sleep_for(300ms);
        ASSERT_TRUE(h.kill_hub(0)) << "kill " << kill_no;
    }
    ASSERT_TRUE(eventually([&] {
        return h.up(0, 2) && h.up(0, 3) && h.peer(0, 2, "subscriptions") >= 1 &&
               h.peer(0, 3, "subscriptions") >= 1;
    }));
    std::this_thread::sleep_for(500ms);
    s.finish();
    c.finish();
    for (Stream* x : {&s, &c}) {
        const int host = x->host;
        std::printf(
            "host %c saw %llu gaps from A (members closed %llu times), dropped %llu "
            "duplicates\n",
            'A' + host, static_cast<unsigned long long>(h.peer(host, 1, "gaps")),
            static_cast<unsigned long long>(h.peer(host, 1, "gap_closes")),
            static_cast<unsigned long long>(h.peer(host, 1, "stale")));
        EXPECT_EQ(x->closes_1013, 0) << x->group;
        EXPECT_EQ(x->closed, 0) << x->group;
        EXPECT_EQ(x->missing, 0) << x->group;
        EXPECT_EQ(x->duplicates, 0) << x->group;
        EXPECT_EQ(x->reordered, 0) << x->group;
        EXPECT_EQ(x->received, x->sent.load()) << x->group;
    }
}

// A's hub dies while its window holds frames B never got (the link is cut): the window outlives
// the process in the host's shared memory, and the restarted hub replays it under the same
// seqs once the link heals. Nothing is lost and nobody is closed.
TEST(ClusterFaults, ASendingHubKilledWithUnacknowledgedFramesLosesNothing) {
    Hosts h({});
    if (!h.netns()) GTEST_SKIP() << "no network namespaces: a link cannot be cut on loopback";
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.up(1, 1); }));
    Stream s;
    ASSERT_TRUE(s.start(h));
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(h.cut(1));
    std::this_thread::sleep_for(500ms);  // ~500 frames wait in A's window for B
    ASSERT_GE(h.peer(0, 2, "unacked_frames"), 1u);
    ASSERT_TRUE(h.kill_hub(0));
    ASSERT_TRUE(h.heal(1));
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.peer(0, 2, "unacked_frames") == 0; }, 30s))
        << h.hub_stats(0);
    std::this_thread::sleep_for(300ms);
    s.finish();
    EXPECT_EQ(s.closed, 0);
    EXPECT_EQ(s.missing, 0);
    EXPECT_EQ(s.duplicates, 0);
    EXPECT_EQ(s.reordered, 0);
    EXPECT_EQ(s.received, s.sent.load());
    EXPECT_EQ(h.peer(1, 1, "gaps"), 0u);
    EXPECT_GE(h.peer(0, 2, "replayed"), 1u);
}

TEST(ClusterFaults, ALinkCutForTwoSecondsLosesAndDuplicatesNothing) {
    Hosts h({}, 3);
    if (!h.netns()) GTEST_SKIP() << "no network namespaces: a link cannot be cut on loopback";
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(eventually([&] { return h.all_up(); }));
    Stream s, c;  // to B (cut off for 2 s) and to C
    ASSERT_TRUE(s.start(h));
    ASSERT_TRUE(c.start(h, 2, "stream-c"));
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(h.cut(1));
    std::this_thread::sleep_for(2s);
    ASSERT_TRUE(h.heal(1));
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.peer(0, 2, "subscriptions") >= 1; }));
    std::this_thread::sleep_for(500ms);
    s.finish();
    c.finish();
    for (Stream* x : {&s, &c}) {
        EXPECT_EQ(x->closed, 0) << x->group;
        EXPECT_EQ(x->missing, 0) << x->group;
        EXPECT_EQ(x->duplicates, 0) << x->group;
        EXPECT_EQ(x->reordered, 0) << x->group;
        EXPECT_EQ(x->received, x->sent.load()) << x->group;
    }
}

TEST(ClusterFaults, ACutLongerThanThePeerBufferHoldsClosesTheGroupsMembersWith1013) {
    Hosts h({"--peer-buffer", "64KiB"});  // the smallest it takes
    if (!h.netns()) GTEST_SKIP() << "no network namespaces: a link cannot be cut on loopback";
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.up(1, 1); }));
    Stream s;
    ASSERT_TRUE(s.start(h));
    std::this_thread::sleep_for(200ms);
    ASSERT_TRUE(h.cut(1));
    std::this_thread::sleep_for(4s);  // ~4,000 messages of ~45 bytes: far more than 64 KiB
    ASSERT_TRUE(h.heal(1));
    ASSERT_TRUE(eventually([&] { return h.peer(1, 1, "lost_received") >= 1; }));
    s.finish();
    EXPECT_EQ(s.closed, 1013);
    EXPECT_EQ(s.missing, 0);  // closed after the last message it got, never left with a gap
    EXPECT_EQ(s.duplicates, 0);
    EXPECT_GE(h.peer(0, 2, "drops"), 1u);
    EXPECT_GE(h.peer(0, 2, "lost_sent"), 1u);
    // The totals of B's workers (a /stats answer read on a loaded machine may come late).
    std::string stats;
    EXPECT_TRUE(eventually([&] {
        stats = h.worker_stats(1);
        const std::size_t totals = stats.find("\"totals\"");
        return totals != std::string::npos &&
               number_after(stats, totals, "closes_lost_remote") >= 1;
    })) << stats;
}

// From host A's own address, a process claims node 1 on B's cluster port (HELLO with the fresh
// flag, then an AUTH keyed with `secret`) while A streams to B. Returns whether B closed it.
bool impostor(Hosts& h, std::string_view secret) {
    return h.in(0, [&] {
        const int fd = tcp_connect(kClusterPort, h.address(1).c_str());
        if (fd < 0) return false;
        const channel::HelloFacts ours{1, 777, channel::kHelloFresh, channel::make_nonce()};
        std::string out;
        channel::append_hello(out, 1, "herald", ours.flags, ours.incarnation, ours.nonce);
        send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        timeval tv{3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::string in;
        char buf[4096];
        bool closed = false;
        bool answered = false;
        while (!closed) {
            const ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                closed = n == 0 || errno == ECONNRESET;
                break;
            }
            in.append(buf, static_cast<std::size_t>(n));
            channel::FrameWalker w(in);
            channel::HelloFacts theirs;
            for (auto c = w.next(); c.status == channel::FrameStatus::kFrame && !answered;
                 c = w.next()) {
                if (c.frame.type == channel::FrameType::kHello) {
                    const channel::HelloBody b = channel::read_hello(c.frame);
                    theirs = {b.node, b.incarnation, b.flags, b.nonce};
                }
                if (c.frame.type != channel::FrameType::kAuth) continue;
                std::string auth;
                channel::append_auth(auth, channel::hello_mac(secret, channel::AuthRole::kDialer,
                                                              ours, theirs, "herald"));
                send(fd, auth.data(), auth.size(), MSG_NOSIGNAL);
                answered = true;
            }
        }
        close(fd);
        return closed && answered;
    });
}

void an_impostor_takes_nothing(const std::vector<std::string>& extra, std::string_view secret,
                               const char* counter) {
    Hosts h(extra);
    ASSERT_TRUE(h.ok()) << h.herald(0).stderr_text() << h.herald(1).stderr_text();
    ASSERT_TRUE(eventually([&] { return h.up(0, 2) && h.up(1, 1); }));
    Stream s;
    ASSERT_TRUE(s.start(h));
    std::this_thread::sleep_for(300ms);
    const std::uint64_t connects = h.peer(1, 1, "connects");
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(impostor(h, secret)) << "impostor " << i;
    std::this_thread::sleep_for(300ms);
    s.finish();
    EXPECT_GE(number_after(h.hub_stats(1), 0, counter), 5u) << h.hub_stats(1);
    EXPECT_EQ(h.peer(1, 1, "connects"), connects);  // A's link was never taken
    EXPECT_EQ(h.peer(1, 1, "stale"), 0u);           // nor its numbering restarted
    EXPECT_EQ(s.closed, 0);
    EXPECT_EQ(s.missing, 0);
    EXPECT_EQ(s.duplicates, 0);
    EXPECT_EQ(s.reordered, 0);
    EXPECT_EQ(s.received, s.sent.load());
}

TEST(ClusterFaults, AnImpostorWithoutTheSecretTakesNothingFromALiveStream) {
    an_impostor_takes_nothing({}, "not the cluster's secret at all", "hello_auth_failed");
}

TEST(ClusterFaults, WithoutASecretAnImpostorForALinkedNodeIsRefusedAsADuplicate) {
    an_impostor_takes_nothing({"--cluster-insecure"}, "", "hello_refused_duplicate");
}

}  // namespace
}  // namespace herald::test
