// AdminServer's limits over real sockets: batches, the pipelining client that never reads,
// trickled heads against the deadline, and the per-IP cap.
#include <gtest/gtest.h>

#include <fstream>

#include "channel/admin_server.h"
#include "tests/support/admin_harness.h"

namespace herald::channel {
namespace {

using test::exchange;
using test::post;

// VmRSS of this process in bytes.
std::size_t rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
    }
    return 0;
}

TEST(AdminLimits, PublishesBatchAnsweringOneStatus) {
    test::FakeHandler handler;
    test::ServerLoop loop(AdminOptions{}, handler);
    const auto a = exchange(
        loop.port(),
        post(R"({"messages":[{"group_id":"a","message":"1"},{"group_id":2,"message":"x"}]})"));
    EXPECT_EQ(a.status, 202);
    EXPECT_EQ(a.body, R"({"accepted":2})");
    ASSERT_EQ(handler.published().size(), 2u);
    EXPECT_EQ(handler.published()[1].first, "2");
}

TEST(AdminLimits, RejectsWholeBatchWhenOneMessageIsInvalid) {
    test::FakeHandler handler;
    test::ServerLoop loop(AdminOptions{}, handler);
    const auto a = exchange(
        loop.port(), post(R"({"messages":[{"group_id":"a","message":"1"},{"message":"x"}]})"));
    EXPECT_EQ(a.status, 400);
    EXPECT_NE(a.body.find("\"index\":1"), std::string::npos) << a.body;
    EXPECT_TRUE(handler.published().empty());
    EXPECT_EQ(exchange(loop.port(), post(R"({"messages":[]})")).status, 400);
}

TEST(AdminLimits, ReportsHowManyOfABatchWerePublishedOn503) {
    test::FakeHandler handler;
    handler.batch_room_ = 1;
    test::ServerLoop loop(AdminOptions{}, handler);
    const auto a = exchange(
        loop.port(),
        post(R"({"messages":[{"group_id":"a","message":"1"},{"group_id":"b","message":"2"}]})"));
    EXPECT_EQ(a.status, 503);
    EXPECT_NE(a.body.find("\"accepted\":1"), std::string::npos) << a.body;
}

// The client pipelines GET /stats (answers of 4 KiB) for 2 s and never reads. MHD answers one
// request at a time and reads no further while an answer is unsent, so the server holds at
// most its connection pool and one answer; the rest waits in the kernel's socket buffers.
TEST(AdminLimits, PipeliningClientThatNeverReadsKeepsMemoryBounded) {
    test::FakeHandler handler;
    handler.stats_ = std::string(4096, ' ');
    test::ServerLoop loop(AdminOptions{}, handler);
    const std::size_t rss_before = rss_bytes();
    const int fd = test::connect_to(loop.port());
    std::string burst;
    for (int i = 0; i < 256; ++i) burst += "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
    std::size_t sent = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {
        const ssize_t n = send(fd, burst.data(), burst.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) sent += static_cast<std::size_t>(n);
        if (n <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::size_t grown = rss_bytes() - std::min(rss_bytes(), rss_before);
    std::printf("pipelining client: sent %zu bytes, server side RSS grew %zu bytes\n", sent, grown);
#ifndef HERALD_SANITIZED         // ASan's quarantine and shadow memory make RSS meaningless
    EXPECT_LT(grown, 4u << 20);  // bound: pool (32 KiB) + one 4 KiB answer, plus allocator slack
#endif
    EXPECT_LT(sent, 16u << 20);  // the server stopped reading: only socket buffers filled
    close(fd);
    EXPECT_EQ(exchange(loop.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

// 256 connections fill the connection cap, each trickling one header line every 100 ms (each
// resets MHD's idle timeout). The 1 s deadline shuts them all; a fresh client is then served.
TEST(AdminLimits, TricklingHeadsAreClosedAtTheDeadline) {
    AdminOptions o;
    o.max_conns = 256;
    o.max_conns_per_ip = 0;
    o.request_deadline = core::kSecond;
    test::FakeHandler handler;
    test::ServerLoop loop(o, handler);
    std::vector<int> fds;
    for (int i = 0; i < 256; ++i) {
        fds.push_back(test::connect_to(loop.port()));
        test::send_all(fds.back(), "GET /stats HTTP/1.1\r\nHost: x\r\n");
    }
    std::size_t closed = 0;
    const auto start = std::chrono::steady_clock::now();
    while (closed < fds.size() &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(4)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        closed = 0;
        for (int fd : fds) {
            char b;
            const ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                ++closed;
            } else {
                test::send_all(fd, "X-Trickle: 1\r\n");
            }
        }
    }
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(closed, fds.size());
    EXPECT_LT(took, std::chrono::milliseconds(2500));
    EXPECT_EQ(exchange(loop.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    for (int fd : fds) close(fd);
    loop.stop();
    EXPECT_EQ(loop.counters().deadline_closes, 256u);
}

TEST(AdminLimits, PerIpCapClosesConnectionsOverIt) {
    AdminOptions o;
    o.max_conns_per_ip = 2;
    test::FakeHandler handler;
    test::ServerLoop loop(o, handler);
    const int a = test::connect_to(loop.port());
    const int b = test::connect_to(loop.port());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto third = exchange(loop.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1000);
    EXPECT_EQ(third.status, 0);
    EXPECT_TRUE(third.closed);
    close(a);
    close(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(exchange(loop.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

}  // namespace
}  // namespace herald::channel
