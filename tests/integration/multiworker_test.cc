// Multi-process herald: a master and N workers sharing send_to_group events through shared
// memory. Connections are spread by the kernel (SO_REUSEPORT); X-Herald-Worker says where each
// one landed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

std::set<int> workers_of(const std::vector<Placed>& v) {
    std::set<int> s;
    for (const auto& p : v) s.insert(p.worker);
    return s;
}

TEST(MultiWorker, EveryMemberOnEveryWorkerGetsEachPublishOnceInOrder) {
    HeraldProcess herald({"--workers", "4"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    auto members = spread(herald.port(), 3, 3);
    ASSERT_GE(workers_of(members).size(), 3u);
    for (auto& m : members) m.ws->add_group("everywhere");
    for (auto& m : members) ASSERT_TRUE(m.ws->sync());

    // One publisher per worker, each sending a numbered sequence.
    std::map<int, Placed*> publisher_of;
    for (auto& m : members) publisher_of.emplace(m.worker, &m);
    constexpr int kPerPublisher = 50;
    for (int i = 0; i < kPerPublisher; ++i) {
        for (auto& [worker, p] : publisher_of) {
            p->ws->send_to_group("everywhere",
                                 "w" + std::to_string(worker) + "-" + std::to_string(i));
        }
    }
    const std::size_t expected = publisher_of.size() * kPerPublisher;
    for (auto& m : members) {
        std::map<std::string, int> next;  // publisher -> next sequence expected
        for (std::size_t k = 0; k < expected; ++k) {
            auto text = m.ws->read_text(5000);
            ASSERT_TRUE(text) << "member on worker " << m.worker << " got " << k << " of "
                              << expected;
            const auto dash = text->find('-');
            const std::string from = text->substr(0, dash);
            EXPECT_EQ(std::stoi(text->substr(dash + 1)), next[from]++) << "order from " << from;
        }
        EXPECT_TRUE(m.ws->quiet_for(20)) << "no duplicates";
    }
}

TEST(MultiWorker, LargeMessagesCrossWorkersInChunks) {
    // A 64 KiB ring carries at most 16 KiB per record: a 200 KB message travels as chunks.
    HeraldProcess herald({"--workers", "2", "--ring-size", "64KiB"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    auto members = spread(herald.port(), 2, 1);
    ASSERT_EQ(workers_of(members).size(), 2u);
    for (auto& m : members) m.ws->add_group("big");
    for (auto& m : members) ASSERT_TRUE(m.ws->sync());
    std::string big(200000, 'x');
    for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
    members[0].ws->send_to_group("big", big);
    for (auto& m : members) EXPECT_EQ(m.ws->read_text(5000), big);
}

TEST(MultiWorker, KilledWorkerIsRestartedAndOthersLoseNothing) {
    HeraldProcess herald({"--workers", "3"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    herald.allow_worker_deaths();
    auto members = spread(herald.port(), 3, 1);
    ASSERT_EQ(workers_of(members).size(), 3u);
    for (auto& m : members) m.ws->add_group("steady");
    for (auto& m : members) ASSERT_TRUE(m.ws->sync());

    // The victim is a worker that holds a member but not the publisher.
    Placed& publisher = members[0];
    Placed& victim = members[1];
    std::vector<Placed*> survivors;
    for (auto& m : members) {
        if (&m != &victim) survivors.push_back(&m);
    }
    const std::string stats =
        http_exchange(herald.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string key = "{\"worker\":" + std::to_string(victim.worker) + ",\"pid\":";
    const auto at = stats.find(key);
    ASSERT_NE(at, std::string::npos) << stats;
    const pid_t victim_pid = std::stoi(stats.substr(at + key.size()));

    constexpr int kMessages = 2000;
    std::atomic<bool> killed{false};
    Clock::time_point killed_at;
    for (int i = 0; i < kMessages; ++i) {
        publisher.ws->send_to_group("steady", std::to_string(i));
        if (i == kMessages / 2) {
            kill(victim_pid, SIGKILL);
            killed_at = Clock::now();
            killed = true;
        }
        if (i % 100 == 0) usleep(1000);
    }
    for (Placed* s : survivors) {
        for (int i = 0; i < kMessages; ++i) {
            auto text = s->ws->read_text(5000);
            ASSERT_TRUE(text) << "worker " << s->worker << " lost message " << i;
            ASSERT_EQ(*text, std::to_string(i));
        }
    }
    // Restarted within a second: its stats slot shows a new pid, ready, one restart.
    bool restarted = false;
    while (!restarted && Clock::now() - killed_at < std::chrono::seconds(1)) {
        const std::string s =
            http_exchange(herald.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto w = s.find(key);
        restarted = w != std::string::npos && std::stoi(s.substr(w + key.size())) != victim_pid &&
                    s.find("\"ready\":1,\"restarts\":1", w) != std::string::npos;
        if (!restarted) usleep(10000);
    }
    EXPECT_TRUE(restarted) << "not restarted within 1 s";
    EXPECT_NE(herald.stderr_text().find("killed by signal 9"), std::string::npos);

    // New connections work, and reach members everywhere (the restarted worker included).
    auto fresh = spread(herald.port(), 3, 1);
    ASSERT_EQ(workers_of(fresh).size(), 3u);
    for (auto& f : fresh) f.ws->add_group("after");
    for (auto& f : fresh) ASSERT_TRUE(f.ws->sync());
    fresh[0].ws->send_to_group("after", "restart-ok");
    for (auto& f : fresh) EXPECT_EQ(f.ws->read_text(3000), "restart-ok") << "worker " << f.worker;
}

TEST(MultiWorker, SigtermWithAThousandConnectionsExitsZeroWithinTwoSeconds) {
    HeraldProcess herald({"--workers", "4"});
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 1000; ++i) {
        clients.push_back(WsClient::connect(herald.port()));
        ASSERT_TRUE(clients.back()) << i;
    }
    ASSERT_TRUE(clients.back()->sync());
    const auto start = Clock::now();
    const int status = herald.stop(SIGTERM, 5000);
    const auto took = Clock::now() - start;
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_LT(took, std::chrono::seconds(2));
    int going_away = 0;
    for (auto& c : clients) going_away += c->read_until_close(100) == 1001 ? 1 : 0;
    EXPECT_EQ(going_away, 1000);
}

TEST(MultiWorker, StatsListEveryWorkerAndTotals) {
    HeraldProcess herald({"--workers", "2"});
    ASSERT_TRUE(herald.ok());
    const std::string s = http_exchange(herald.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(s.find("{\"worker\":0,"), std::string::npos) << s;
    EXPECT_NE(s.find("{\"worker\":1,"), std::string::npos) << s;
    EXPECT_NE(s.find("\"ring_lag\":{"), std::string::npos) << s;
    EXPECT_NE(s.find("\"ring_drops\":0"), std::string::npos) << s;
    EXPECT_NE(s.find("\"totals\":{\"workers\":2,"), std::string::npos) << s;
}

}  // namespace
}  // namespace herald::test
