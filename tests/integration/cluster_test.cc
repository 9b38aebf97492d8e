// Three herald hosts on one machine: each a master, two workers and a hub, its hub on its own
// loopback address (127.0.0.2, .3, .4) and linked to the others by TCP frames. A member on any
// host receives a send_to_group (or a POST /publish) from any host.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "channel/cluster_frame.h"
#include "tests/support/free_port.h"
#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& ok, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (ok()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ok();
}

// The value of `"name":<number>` in `json` after position `from` (0 when absent).
std::uint64_t number_after(const std::string& json, std::size_t from, const std::string& name) {
    const std::size_t at = json.find("\"" + name + "\":", from);
    if (at == std::string::npos) return 0;
    return std::strtoull(json.c_str() + at + name.size() + 3, nullptr, 10);
}

struct Host {
    std::string address;  // the hub's loopback address
    std::uint16_t cluster_port = 0;
    std::uint16_t api_port = 0;
    std::unique_ptr<HeraldProcess> herald;

    std::string http(const std::string& request) const {
        const std::string out = http_exchange(api_port, request, 3000, address.c_str());
        return out;
    }
    std::string stats() const {
        const std::string out = http("GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        const std::size_t body = out.find("\r\n\r\n");
        return body == std::string::npos ? "" : out.substr(body + 4);
    }
    // A counter of this hub's entry for peer `node` (0 when it has none).
    std::uint64_t peer(std::uint32_t node, const std::string& name) const {
        const std::string s = stats();
        const std::size_t at = s.find("{\"node\":" + std::to_string(node) + ",");
        if (at == std::string::npos) return 0;
        const std::size_t end = s.find('}', at);
        const std::uint64_t v = number_after(s, at, name);
        return s.find("\"" + name + "\":", at) < end ? v : 0;
    }
    bool peer_up(std::uint32_t node) const {
        const std::string s = stats();
        const std::size_t at = s.find("{\"node\":" + std::to_string(node) + ",");
        return at != std::string::npos && s.find("\"state\":\"up\"", at) < s.find('}', at);
    }
    std::uint64_t counter(const std::string& name) const { return number_after(stats(), 0, name); }
    std::unique_ptr<WsClient> member(const std::string& group) const {
        auto ws = WsClient::connect(herald->port());
        if (ws) ws->add_group(group);
        if (ws) ws->sync();
        return ws;
    }
    pid_t hub_pid() const {
        const std::string s = http_exchange(
            herald->port(), "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        const std::size_t at = s.find("\"role\":\"hub\"");
        if (at == std::string::npos) return -1;
        const std::size_t entry = s.rfind("{", at);
        return static_cast<pid_t>(number_after(s, entry, "pid"));
    }
};

// Who lists whom in --peers: every host every host, or every host only the first.
enum class Lists { kEveryone, kOnlyTheFirst };

class Cluster {
  public:
    // Host i runs node i + 1, or ids[i] when given.
    explicit Cluster(const std::vector<std::string>& extra = {}, int n = 3,
                     Lists lists = Lists::kEveryone, std::vector<std::uint32_t> ids = {}) {
        for (int i = 0; i < n; ++i) {
            Host h;
            h.address = "127.0.0." + std::to_string(2 + i);
            h.cluster_port = free_port(h.address.c_str());
            h.api_port = free_port(h.address.c_str());
            hosts.push_back(std::move(h));
        }
        std::string peers;
        for (const Host& h : hosts) {
            peers += (peers.empty() ? "" : ",") + h.address + ":" + std::to_string(h.cluster_port);
        }
        const std::string first = hosts[0].address + ":" + std::to_string(hosts[0].cluster_port);
        for (int i = 0; i < n; ++i) {
            Host& h = hosts[static_cast<std::size_t>(i)];
            std::vector<std::string> args = {
                "--workers",
                "2",
                "--node-id",
                std::to_string(ids.empty() ? static_cast<std::uint32_t>(i + 1)
                                           : ids[static_cast<std::size_t>(i)]),
                "--cluster-listen",
                h.address + ":" + std::to_string(h.cluster_port),
                "--peers",
                lists == Lists::kEveryone ? peers : first,
                "--api-listen",
                h.address + ":" + std::to_string(h.api_port)};
            args.insert(args.end(), extra.begin(), extra.end());
            h.herald = std::make_unique<HeraldProcess>(args);
        }
    }
    bool ok() const {
        for (const Host& h : hosts) {
            if (!h.herald->ok()) return false;
        }
        return true;
    }
    // Every hub has a link up to every other.
    bool meshed() const {
        return eventually([&] {
            for (std::size_t i = 0; i < hosts.size(); ++i) {
                for (std::size_t j = 0; j < hosts.size(); ++j) {
                    if (i != j && !hosts[i].peer_up(static_cast<std::uint32_t>(j + 1))) {
                        return false;
                    }
                }
            }
            return true;
        });
    }
    // Hub `to` knows that host `from` has members in some group (subscriptions > 0).
    bool subscribed(std::size_t to, std::size_t from, std::uint64_t at_least = 1) const {
        return eventually([&] {
            return hosts[to].peer(static_cast<std::uint32_t>(from + 1), "subscriptions") >=
                   at_least;
        });
    }
    std::string errors() {
        std::string all;
        for (Host& h : hosts) all += h.herald->stderr_text();
        return all;
    }
    std::vector<Host> hosts;
};

TEST(Cluster, AMemberOnEachHostGetsAPublishFromAnyHostExactlyOnce) {
    Cluster c;
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    std::vector<std::unique_ptr<WsClient>> members;
    for (const Host& h : c.hosts) members.push_back(h.member("everywhere"));
    for (std::size_t to = 0; to < 3; ++to) {
        for (std::size_t from = 0; from < 3; ++from) {
            if (to == from) continue;
            ASSERT_TRUE(c.subscribed(to, from)) << c.errors();
        }
    }
    for (std::size_t from = 0; from < 3; ++from) {
        members[from]->send_to_group("everywhere", "from host " + std::to_string(from));
        for (auto& m : members) {
            EXPECT_EQ(m->read_text(5000), "from host " + std::to_string(from));
        }
    }
    for (auto& m : members) EXPECT_TRUE(m->quiet_for(300));
    // The lower id dialled, from the address its peers know it by.
    EXPECT_NE(c.hosts[1].stats().find("\"address\":\"from 127.0.0.2:"), std::string::npos);
    EXPECT_NE(c.hosts[2].stats().find("\"address\":\"from 127.0.0.3:"), std::string::npos);
}

TEST(Cluster, AHostNoOneListsWithTheHighestIdJoinsAndMessagesCrossBothWays) {
    Cluster c({}, 2, Lists::kOnlyTheFirst);  // host 0 (node 1) lists only itself
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    auto a = c.hosts[0].member("both");
    auto b = c.hosts[1].member("both");
    ASSERT_TRUE(c.subscribed(0, 1) && c.subscribed(1, 0)) << c.errors();
    constexpr int kCount = 100;
    for (int i = 0; i < kCount; ++i) a->send_to_group("both", "a" + std::to_string(i));
    for (int i = 0; i < kCount; ++i) b->send_to_group("both", "b" + std::to_string(i));
    // Each member gets its own host's and the other host's, each stream in order, once.
    for (auto* m : {a.get(), b.get()}) {
        int next_a = 0;
        int next_b = 0;
        for (int i = 0; i < 2 * kCount; ++i) {
            const std::optional<std::string> got = m->read_text(5000);
            ASSERT_TRUE(got && !got->empty()) << "after " << next_a << " + " << next_b;
            if ((*got)[0] == 'a') {
                EXPECT_EQ(*got, "a" + std::to_string(next_a++));
            } else {
                EXPECT_EQ(*got, "b" + std::to_string(next_b++));
            }
        }
        EXPECT_TRUE(m->quiet_for(200));
    }
    EXPECT_EQ(c.hosts[0].counter("hello_refused_duplicate"), 0u);
}

TEST(Cluster, TwoHostsWithOneNodeIdAreReportedAndTheThirdKeepsOneSteadyLink) {
    Cluster c({"--peer-timeout", "1s"}, 3, Lists::kEveryone, {1, 1, 3});
    ASSERT_TRUE(c.ok()) << c.errors();
    const Host& third = c.hosts[2];
    ASSERT_TRUE(eventually([&] { return third.peer_up(1); })) << c.errors();
    ASSERT_TRUE(eventually([&] {
        return c.hosts[0].counter("hello_refused_own_id") >= 1 &&
               c.hosts[1].counter("hello_refused_own_id") >= 1 &&
               third.counter("hello_refused_duplicate") >= 1;
    })) << c.errors();
    // Past the dial race of the honest pair (settled within --peer-timeout), the link to node 1
    // stays: the twin never takes it.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const std::uint64_t connects = third.peer(1, "connects");
    std::this_thread::sleep_for(std::chrono::seconds(2));  // a flapping link would show here
    EXPECT_TRUE(third.peer_up(1));
    EXPECT_EQ(third.peer(1, "connects"), connects) << c.errors();
    const std::string log = c.errors();
    EXPECT_NE(log.find("event=node_id_conflict node=1"), std::string::npos) << log;
    EXPECT_NE(log.find("event=hello_refused_duplicate node=1"), std::string::npos) << log;
}

TEST(Cluster, MessagesFromOnePublisherArriveInOrderOnEveryHost) {
    Cluster c;
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    auto a = c.hosts[0].member("ordered");
    auto b = c.hosts[1].member("ordered");
    auto d = c.hosts[2].member("ordered");
    ASSERT_TRUE(c.subscribed(0, 1) && c.subscribed(0, 2));
    constexpr int kCount = 500;
    for (int i = 0; i < kCount; ++i) a->send_to_group("ordered", std::to_string(i));
    for (WsClient* m : {a.get(), b.get(), d.get()}) {
        for (int i = 0; i < kCount; ++i) ASSERT_EQ(m->read_text(5000), std::to_string(i));
    }
}

TEST(Cluster, AGroupWithMembersOnlyOnOneHostSendsNoFrameToTheOthers) {
    Cluster c;
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    auto local = c.hosts[0].member("only-a");
    auto other = c.hosts[0].member("only-a");
    auto far = c.hosts[1].member("elsewhere");  // B has interest, but in another group
    ASSERT_TRUE(c.subscribed(0, 1));
    for (int i = 0; i < 50; ++i) local->send_to_group("only-a", "m" + std::to_string(i));
    for (int i = 0; i < 50; ++i) ASSERT_EQ(other->read_text(5000), "m" + std::to_string(i));
    EXPECT_EQ(c.hosts[0].peer(2, "publishes_out"), 0u);
    EXPECT_EQ(c.hosts[0].peer(3, "publishes_out"), 0u);
    EXPECT_EQ(c.hosts[1].peer(1, "publishes_in"), 0u);
    EXPECT_EQ(c.hosts[2].peer(1, "publishes_in"), 0u);
    EXPECT_GE(c.hosts[0].counter("unrouted"), 50u);
    EXPECT_TRUE(far->quiet_for(200));
}

TEST(Cluster, AKilledHubIsRestartedAndResyncsInterest) {
    Cluster c;
    ASSERT_TRUE(c.ok()) << c.errors();
    for (Host& h : c.hosts) h.herald->allow_worker_deaths();
    ASSERT_TRUE(c.meshed()) << c.errors();
    auto a = c.hosts[0].member("resync");
    auto b = c.hosts[1].member("resync");
    ASSERT_TRUE(c.subscribed(0, 1));
    const pid_t hub = c.hosts[1].hub_pid();
    ASSERT_GT(hub, 0);
    ASSERT_EQ(kill(hub, SIGKILL), 0);
    // The master restarts it; it links again and learns B's members from B's workers.
    ASSERT_TRUE(eventually([&] {
        const pid_t now = c.hosts[1].hub_pid();
        return now > 0 && now != hub;
    }));
    ASSERT_TRUE(c.meshed()) << c.errors();
    ASSERT_TRUE(c.subscribed(0, 1)) << c.errors();
    a->send_to_group("resync", "after restart");
    EXPECT_EQ(b->read_text(5000), "after restart");
    EXPECT_EQ(a->read_text(5000), "after restart");
    EXPECT_NE(c.errors().find("hub (pid"), std::string::npos);
}

TEST(Cluster, AStoppedHubIsDetectedAndItsMembersAreClosedForEveryLostFrame) {
    // A small peer buffer, so what waits for the stopped hub can overflow and be dropped.
    Cluster c({"--peer-timeout", "1s", "--peer-buffer", "64KiB"});
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    auto a = c.hosts[0].member("cut");
    auto d = c.hosts[2].member("cut");
    ASSERT_TRUE(c.subscribed(0, 2));
    const pid_t hub = c.hosts[2].hub_pid();
    ASSERT_GT(hub, 0);
    ASSERT_EQ(kill(hub, SIGSTOP), 0);
    int sent = 0;
    const std::string pad(1000, 'x');
    // Published while C's hub is stopped: more than the link and the 64 KiB buffer can hold.
    for (; sent < 4000; ++sent) {
        a->send_to_group("cut", std::to_string(sent) + " " + pad);
        ASSERT_TRUE(a->read_text(5000));  // A's own copy (A is a member too)
    }
    EXPECT_TRUE(eventually([&] { return !c.hosts[0].peer_up(3); }, 5s));  // dead peer found
    // What A could not hold unacknowledged for C (64 KiB) it dropped, remembering the group.
    const std::uint64_t drops = c.hosts[0].peer(3, "drops");
    // C's member reads from the moment C's hub resumes: the frames that waited arrive in a
    // burst, and a member that did not read them would be closed for backpressure (1008), its
    // group unsubscribed (that, not the re-mesh, made this test fail now and then).
    int received = 0;
    bool in_order = true;
    bool got_last = false;
    std::uint16_t closed = 0;
    std::thread reader([&] {
        long previous = -1;
        while (auto f = d->read_frame(20000)) {
            if (f->opcode == net::Opcode::kClose) {
                closed = f->close_code();
                return;
            }
            ++received;
            if (f->payload == "last") {
                got_last = true;
                return;
            }
            const long n = std::stol(f->payload);
            in_order = in_order && n > previous;
            previous = n;
        }
    });
    ASSERT_EQ(kill(hub, SIGCONT), 0);
    const bool meshed = c.meshed();
    // Nothing dropped: everything arrives, then "last". Something dropped: C hears of it (LOST)
    // and closes its member with 1013 after the frames that did arrive, in order.
    const bool subscribed = meshed && drops == 0 && c.subscribed(0, 2);
    if (subscribed) a->send_to_group("cut", "last");
    reader.join();
    ASSERT_TRUE(meshed) << c.errors();
    EXPECT_TRUE(in_order);
    std::printf("sent %d, received %d; A dropped %llu for C; C's member closed with %u\n", sent,
                received, static_cast<unsigned long long>(drops), closed);
    if (drops == 0) {
        ASSERT_TRUE(subscribed) << c.hosts[2].stats() << c.errors();
        EXPECT_TRUE(got_last);
        EXPECT_EQ(received, sent + 1);
        return;
    }
    EXPECT_EQ(closed, 1013);
    EXPECT_LE(received + static_cast<int>(drops), sent);
    EXPECT_GE(c.hosts[0].peer(3, "lost_sent"), 1u);
    EXPECT_TRUE(eventually([&] { return c.hosts[2].peer(1, "lost_received") >= 1; }));
    EXPECT_GE(c.hosts[2].counter("lost_groups"), 1u);
    EXPECT_EQ(c.hosts[2].peer(1, "gaps"), 0u);  // nothing missing that was not reported
    const std::string workers = http_exchange(
        c.hosts[2].herald->port(), "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    EXPECT_GE(
        number_after(workers, 0, "closes_lost_remote") +
            number_after(workers, workers.find("closes_lost_remote") + 1, "closes_lost_remote"),
        1u)
        << workers;
}

// Raw frames from something that is not a hub.
std::string exchange_frames(const Host& h, const std::string& bytes) {
    const int fd = tcp_connect(h.cluster_port, h.address.c_str());
    if (fd < 0) return "connect failed";
    (void)!write(fd, bytes.data(), bytes.size());
    std::string got;
    char buf[512];
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    close(fd);
    return n == 0 ? got : "not closed";
}

TEST(Cluster, MalformedFramesFromAFakePeerCloseItsLinkAndTheHubStaysUp) {
    Cluster c({}, 1);
    ASSERT_TRUE(c.ok()) << c.errors();
    const Host& h = c.hosts[0];
    using channel::FrameType;
    std::string bad_version;
    channel::append_ping(bad_version, FrameType::kPing, 1);
    bad_version[5] = 42;
    EXPECT_NE(exchange_frames(h, bad_version), "not closed");
    std::string unknown;
    channel::append_ping(unknown, FrameType::kPing, 1);
    unknown[4] = 99;
    EXPECT_NE(exchange_frames(h, unknown), "not closed");
    EXPECT_NE(exchange_frames(h, std::string("\xff\xff\xff\x7f\x04\x01\x00\x00", 8)),
              "not closed");  // a 2 GiB PUBLISH
    std::string before_hello;
    channel::append_group_frame(before_hello, FrameType::kSubscribe, "g");
    EXPECT_NE(exchange_frames(h, before_hello), "not closed");
    std::string other_cluster;
    channel::append_hello(other_cluster, 9, "not-herald");
    EXPECT_NE(exchange_frames(h, other_cluster), "not closed");
    EXPECT_NE(exchange_frames(h, "GET / HTTP/1.1\r\n\r\n"), "not closed");
    EXPECT_GE(h.counter("bad_frames"), 5u);
    EXPECT_GE(h.counter("rejected_links"), 1u);
    // Still serving.
    auto m = h.member("alive");
    m->send_to_group("alive", "yes");
    EXPECT_EQ(m->read_text(3000), "yes");
}

TEST(Cluster, AFloodOfSilentPeerConnectionsIsBoundedAndTheHubStaysUp) {
    Cluster c({}, 1);
    ASSERT_TRUE(c.ok()) << c.errors();
    const Host& h = c.hosts[0];
    std::vector<int> silent;
    for (int i = 0; i < 64; ++i) silent.push_back(tcp_connect(h.cluster_port, h.address.c_str()));
    // The hub holds them all (waiting for a HELLO) before the one over the bound.
    ASSERT_TRUE(eventually([&] { return h.counter("unnamed_links") == 64; }));
    // One more evicts the one that waited longest (a real peer still gets in).
    const int extra = tcp_connect(h.cluster_port, h.address.c_str());
    ASSERT_GE(extra, 0);
    timeval tv{10, 0};
    setsockopt(silent[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    EXPECT_EQ(read(silent[0], &b, 1), 0) << c.errors();
    EXPECT_GE(h.counter("rejected_links"), 1u);
    EXPECT_EQ(h.counter("hello_timeouts"), 0u);  // evicted, not timed out
    EXPECT_TRUE(eventually([&] { return h.counter("unnamed_links") == 64; }));
    close(extra);
    for (int fd : silent) close(fd);
    auto m = h.member("still");
    m->send_to_group("still", "up");
    EXPECT_EQ(m->read_text(3000), "up");
}

// utime + stime of process `pid`, in clock ticks (proc(5)).
long cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string skip;
    for (int i = 3; i < 14; ++i) fields >> skip;
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    return utime + stime;
}

TEST(Cluster, AHubAtItsDescriptorLimitBacksOffAcceptingAndStillServes) {
    Cluster c({}, 1);
    ASSERT_TRUE(c.ok()) << c.errors();
    const Host& h = c.hosts[0];
    const pid_t hub = h.hub_pid();
    ASSERT_GT(hub, 0);
    // A limit that leaves the hub 4 free descriptors (the lowest free numbers, holes included).
    std::set<long> open;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(hub) + "/fd")) {
        open.insert(std::stol(e.path().filename().string()));
    }
    rlim_t limit = 0;
    for (int free_fds = 0; free_fds < 4; ++limit) {
        if (open.count(static_cast<long>(limit)) == 0) ++free_fds;
    }
    const rlimit tight{limit, limit};
    ASSERT_EQ(prlimit(hub, RLIMIT_NOFILE, &tight, nullptr), 0);
    std::vector<int> waiting;
    for (int i = 0; i < 16; ++i) waiting.push_back(tcp_connect(h.cluster_port, h.address.c_str()));
    const long ticks_before = cpu_ticks(hub);
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long ticks = cpu_ticks(hub) - ticks_before;
    for (int fd : waiting) close(fd);  // the hub's descriptors come back as it reads their EOF
    // It backed off (one try per 100 ms pause), not one try per loop pass on a spinning core.
    EXPECT_LT(static_cast<double>(ticks),
              0.1 * seconds * static_cast<double>(sysconf(_SC_CLK_TCK)));
    std::uint64_t pauses = 0;
    ASSERT_TRUE(eventually([&] { return (pauses = h.counter("accept_pauses")) >= 1; }))
        << c.errors();
    std::printf("at the limit for %.1f s: %llu accept pauses, %ld CPU ticks\n", seconds,
                static_cast<unsigned long long>(pauses), ticks);
    // Logged once a second at most, not once per try.
    const std::string log = c.errors();
    std::size_t lines = 0;
    for (std::size_t at = log.find("cluster_accept_paused"); at != std::string::npos;
         at = log.find("cluster_accept_paused", at + 1)) {
        ++lines;
    }
    EXPECT_GE(lines, 1u) << log;
    EXPECT_LE(lines, pauses);
    EXPECT_LE(lines, static_cast<std::size_t>(seconds) + 3) << log;
    auto m = h.member("after");
    ASSERT_TRUE(m);
    m->send_to_group("after", "served");
    EXPECT_EQ(m->read_text(3000), "served");
}

std::string post(const Host& h, const std::string& body, const std::string& auth = "") {
    std::string req = "POST /publish HTTP/1.1\r\nHost: h\r\nConnection: close\r\n";
    if (!auth.empty()) req += "Authorization: Bearer " + auth + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return h.http(req);
}

TEST(Cluster, PublishApiReachesMembersOnEveryHostAndChecksTheToken) {
    Cluster c({"--api-token", "t0ken", "--max-message", "1024"});
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    std::vector<std::unique_ptr<WsClient>> members;
    for (const Host& h : c.hosts) members.push_back(h.member("api"));
    ASSERT_TRUE(c.subscribed(1, 0) && c.subscribed(1, 2));
    const std::string body = R"({"group_id":"api","message":"from the backend \u00e9"})";
    EXPECT_EQ(post(c.hosts[1], body).rfind("HTTP/1.1 401", 0), 0u);
    EXPECT_EQ(post(c.hosts[1], body, "wrong").rfind("HTTP/1.1 401", 0), 0u);
    for (auto& m : members) EXPECT_TRUE(m->quiet_for(100));
    EXPECT_EQ(post(c.hosts[1], body, "t0ken").rfind("HTTP/1.1 202", 0), 0u);
    for (auto& m : members) EXPECT_EQ(m->read_text(5000), "from the backend \xc3\xa9");
    EXPECT_EQ(post(c.hosts[1], "{not json", "t0ken").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(post(c.hosts[1], R"({"group_id":"api"})", "t0ken").rfind("HTTP/1.1 400", 0), 0u);
    const std::string big = R"({"group_id":"api","message":")" + std::string(2000, 'x') + "\"}";
    EXPECT_EQ(post(c.hosts[1], big, "t0ken").rfind("HTTP/1.1 413", 0), 0u);
    // The token is checked first (as soon as the head is complete), then the length.
    const std::string huge =
        "POST /publish HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t0ken\r\n"
        "Content-Length: 99999999\r\n\r\n";
    EXPECT_EQ(c.hosts[1].http(huge).rfind("HTTP/1.1 413", 0), 0u);
    EXPECT_EQ(c.hosts[1]
                  .http("GET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                  .rfind("HTTP/1.1 404", 0),
              0u);
    EXPECT_EQ(c.hosts[1].counter("api_publishes"), 1u);
    for (auto& m : members) EXPECT_TRUE(m->quiet_for(200));
}

TEST(Cluster, ReadyzShowsTheLinksAndBatchesReachEveryHost) {
    Cluster c;
    ASSERT_TRUE(c.ok()) << c.errors();
    ASSERT_TRUE(c.meshed()) << c.errors();
    const std::string ready =
        c.hosts[0].http("GET /readyz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(ready.rfind("HTTP/1.1 200", 0), 0u) << ready;
    EXPECT_NE(ready.find("{\"node\":2,"), std::string::npos) << ready;
    EXPECT_NE(ready.find("{\"node\":3,"), std::string::npos) << ready;
    EXPECT_EQ(ready.find("\"state\":\"down\""), std::string::npos) << ready;
    std::vector<std::unique_ptr<WsClient>> members;
    for (const Host& h : c.hosts) members.push_back(h.member("b"));
    ASSERT_TRUE(c.subscribed(0, 1) && c.subscribed(0, 2));
    const std::string batch =
        R"({"messages":[{"group_id":"b","message":"one"},{"group_id":"b","message":"two"}]})";
    EXPECT_EQ(post(c.hosts[0], batch).rfind("HTTP/1.1 202", 0), 0u);
    for (auto& m : members) {
        EXPECT_EQ(m->read_text(5000), "one");
        EXPECT_EQ(m->read_text(5000), "two");
    }
}

TEST(Cluster, PublishApiWithoutATokenOnASingleHost) {
    const std::uint16_t api = free_port("127.0.0.1");
    HeraldProcess herald({"--workers", "1", "--api-listen", "127.0.0.1:" + std::to_string(api)});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    auto m = WsClient::connect(herald.port());
    ASSERT_TRUE(m);
    m->send_text(R"({"cmd":"add_group","group_id":7})");
    ASSERT_TRUE(m->sync());
    Host h{"127.0.0.1", 0, api, nullptr};
    // Keep-alive: two requests on one connection, both answered.
    const std::string body = R"({"group_id":7,"message":"hi"})";
    const std::string one =
        "POST /publish HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    const std::string out =
        h.http(one + one + "GET /stats HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 202", 0), 0u) << out;
    EXPECT_NE(out.find("HTTP/1.1 202", 10), std::string::npos);
    EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos);
    EXPECT_EQ(m->read_text(3000), "hi");
    EXPECT_EQ(m->read_text(3000), "hi");
}

}  // namespace
}  // namespace herald::test
