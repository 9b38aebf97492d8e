// The kernel-path options (docs/KERNEL_BYPASS.md): zero-copy sends deliver the same bytes and
// keep every block alive until the kernel's notification, even when connections die with sends
// and notifications in flight; a kernel without SEND_ZC falls back with one log line; --sqpoll
// and --busy-poll-us start, say what took effect, and serve.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using Clock = std::chrono::steady_clock;

// Sets an environment variable for one scope (herald inherits it).
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
};

// `size` bytes of letters that differ from message to message and along the message.
std::string payload(std::size_t size, int seed) {
    std::string s(size, 'a');
    for (std::size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
    return s;
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

// Waits (up to 10 s) until counter `name` reaches `min`; returns its last value.
std::uint64_t wait_counter(std::uint16_t port, const std::string& name, std::uint64_t min) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    std::uint64_t v = stats_total(port, name);
    while (v < min && Clock::now() < deadline) {
        usleep(20000);
        v = stats_total(port, name);
    }
    return v;
}

// Members of one group each get every message byte for byte (16 KiB and 256 KiB frames).
void expect_exact_delivery(std::uint16_t port, int members) {
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < members; ++i) {
        clients.push_back(WsClient::connect(port));
        ASSERT_TRUE(clients.back());
        ASSERT_TRUE(clients.back()->add_group("zc"));
        ASSERT_TRUE(clients.back()->sync());
    }
    auto publisher = WsClient::connect(port);
    ASSERT_TRUE(publisher);
    int seed = 0;
    for (std::size_t size : {std::size_t{16} << 10, std::size_t{256} << 10}) {
        for (int m = 0; m < 3; ++m) {
            const std::string message = payload(size, ++seed);
            ASSERT_TRUE(publisher->send_to_group("zc", message));
            for (auto& c : clients) {
                const auto text = c->read_text(10000);
                ASSERT_TRUE(text) << size;
                ASSERT_EQ(text->size(), message.size());
                EXPECT_TRUE(*text == message) << "bytes differ in a " << size << " B frame";
            }
        }
    }
}

TEST(KernelPaths, ZeroCopyOnLoopbackDeliversExactFramesAndCountsTheCopies) {
    HeraldProcess herald({"--workers", "1", "--zerocopy-threshold", "16KiB"});
    ASSERT_TRUE(herald.ok());
    expect_exact_delivery(herald.port(), 3);
    EXPECT_GE(stats_total(herald.port(), "zerocopy_sends"), 3u);
    // Loopback always copies: every notification says so.
    EXPECT_GE(wait_counter(herald.port(), "zerocopy_copied", 3), 3u);
    const std::string err = herald.stderr_text();
    EXPECT_EQ(count_of(err, "event=zerocopy"), 1u) << err;
    EXPECT_NE(err.find("event=zerocopy state=on mode=threshold threshold=16384"), std::string::npos)
        << err;
}

TEST(KernelPaths, ConnectionsThatCopyEveryTimeStopUsingZeroCopy) {
    HeraldProcess herald({"--workers", "1", "--zerocopy-threshold", "16KiB"});
    ASSERT_TRUE(herald.ok());
    auto member = WsClient::connect(herald.port());
    ASSERT_TRUE(member);
    ASSERT_TRUE(member->add_group("zc"));
    ASSERT_TRUE(member->sync());
    auto publisher = WsClient::connect(herald.port());
    ASSERT_TRUE(publisher);
    const auto send_and_read = [&](int count) {
        for (int m = 0; m < count; ++m) {
            const std::string message = payload(16 << 10, m);
            ASSERT_TRUE(publisher->send_to_group("zc", message));
            const auto text = member->read_text(10000);
            ASSERT_TRUE(text && *text == message);
        }
    };
    send_and_read(12);  // past the limit of copied notifications in a row
    EXPECT_EQ(wait_counter(herald.port(), "zerocopy_disabled", 1), 1u);
    const std::uint64_t sends = stats_total(herald.port(), "zerocopy_sends");
    EXPECT_LT(sends, 12u);
    send_and_read(3);
    EXPECT_EQ(stats_total(herald.port(), "zerocopy_sends"), sends);
}

TEST(KernelPaths, AutoIsOffOnLoopbackAndSaysWhy) {
    HeraldProcess herald({"--workers", "1"});
    ASSERT_TRUE(herald.ok());
    const std::string err = herald.stderr_text();
    EXPECT_EQ(count_of(err, "event=zerocopy"), 1u) << err;
    EXPECT_NE(err.find("event=zerocopy state=off mode=auto"), std::string::npos) << err;
    expect_exact_delivery(herald.port(), 1);
    EXPECT_EQ(stats_total(herald.port(), "zerocopy_sends"), 0u);
}

TEST(KernelPaths, KernelWithoutSendZcFallsBackWithOneLogLine) {
    const ScopedEnv no_zc("HERALD_TEST_NO_SEND_ZC", "1");
    HeraldProcess herald({"--workers", "1", "--zerocopy-threshold", "16KiB"});
    ASSERT_TRUE(herald.ok());
    expect_exact_delivery(herald.port(), 2);
    EXPECT_EQ(stats_total(herald.port(), "zerocopy_sends"), 0u);
    const std::string err = herald.stderr_text();
    EXPECT_EQ(count_of(err, "event=zerocopy"), 1u) << err;
    EXPECT_NE(err.find("event=zerocopy state=off mode=threshold"), std::string::npos) << err;
    EXPECT_NE(err.find("fallback=send"), std::string::npos) << err;
}

// Members that reset or close their connections while 256 KiB zero-copy frames to them are in
// flight: every block stays alive until its notification and is released after it (ASan and
// LeakSanitizer check the process; HeraldProcess fails the test on their reports), and the
// server goes on serving.
TEST(KernelPaths, ConnectionsDieWithZeroCopySendsAndNotificationsInFlight) {
    const ScopedEnv keep("HERALD_ZEROCOPY_KEEP", "1");  // never stop zero-copy: every frame uses it
    HeraldProcess herald({"--workers", "1", "--zerocopy-threshold", "16KiB"});
    ASSERT_TRUE(herald.ok());
    constexpr int kRounds = 4;
    constexpr int kMembers = 12;
    const std::string message = payload(256 << 10, 1);
    auto publisher = WsClient::connect(herald.port());
    ASSERT_TRUE(publisher);
    for (int round = 0; round < kRounds; ++round) {
        std::vector<std::unique_ptr<WsClient>> members;
        for (int i = 0; i < kMembers; ++i) {
            members.push_back(WsClient::connect(herald.port()));
            ASSERT_TRUE(members.back());
            const int small = 4096;  // the kernel holds the frames longer
            setsockopt(members.back()->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
            ASSERT_TRUE(members.back()->add_group("die"));
            ASSERT_TRUE(members.back()->sync());
        }
        for (int m = 0; m < 3; ++m) ASSERT_TRUE(publisher->send_to_group("die", message));
        ASSERT_TRUE(publisher->sync());  // herald has queued (and started) the sends
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i % 2 == 0) {  // RST: unread data makes close() reset, SO_LINGER 0 makes sure
                const linger hard{1, 0};
                setsockopt(members[i]->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
            }
            members[i]->close_socket();
        }
    }
    EXPECT_GE(stats_total(herald.port(), "zerocopy_sends"), static_cast<std::uint64_t>(kRounds));
    // Every dead connection is released (its last notification came back).
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (stats_total(herald.port(), "connections") > 2 && Clock::now() < deadline) usleep(20000);
    EXPECT_EQ(stats_total(herald.port(), "connections"), 2u);  // the publisher and /stats
    expect_exact_delivery(herald.port(), 2);
    EXPECT_EQ(herald.stop(SIGTERM), 0);
}

// Bursts make the loop send several frames per connection in one sendmsg, whose msghdr lives in
// a per-pass arena: under SQPOLL the kernel thread takes the SQE later than io_uring_submit
// returns, and a reused arena would send other connections' bytes. (This burst is too light to
// show that failure on its own; tests/load/load_kernel_options_test.py loads herald enough.)
void expect_burst_in_order(std::uint16_t port, int members, int messages) {
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < members; ++i) {
        clients.push_back(WsClient::connect(port));
        ASSERT_TRUE(clients.back());
        ASSERT_TRUE(clients.back()->add_group("burst"));
        ASSERT_TRUE(clients.back()->sync());
    }
    std::vector<std::unique_ptr<WsClient>> publishers;
    for (int p = 0; p < 4; ++p) {
        publishers.push_back(WsClient::connect(port));
        ASSERT_TRUE(publishers.back());
    }
    for (int m = 0; m < messages; ++m) {
        const std::size_t p = static_cast<std::size_t>(m) % publishers.size();
        ASSERT_TRUE(publishers[p]->send_to_group("burst", std::to_string(m) + payload(100, m)));
    }
    for (auto& c : clients) {
        std::vector<bool> seen(static_cast<std::size_t>(messages), false);
        for (int m = 0; m < messages; ++m) {
            const auto text = c->read_text(10000);
            ASSERT_TRUE(text) << m;
            const std::size_t digits = text->find_first_not_of("0123456789");
            ASSERT_NE(digits, 0u) << *text;
            const int n = std::stoi(text->substr(0, digits));
            ASSERT_TRUE(n >= 0 && n < messages) << *text;
            EXPECT_EQ(text->substr(digits), payload(100, n));
            seen[static_cast<std::size_t>(n)] = true;
        }
        for (bool s : seen) EXPECT_TRUE(s);
    }
}

TEST(KernelPaths, SqpollServesAndSaysItIsOn) {
    HeraldProcess herald({"--workers", "1", "--sqpoll"});
    ASSERT_TRUE(herald.ok());
    const std::string err = herald.stderr_text();
    EXPECT_NE(err.find("event=sqpoll state=on cpu=any"), std::string::npos) << err;
    expect_exact_delivery(herald.port(), 2);
    expect_burst_in_order(herald.port(), 50, 400);
    EXPECT_EQ(stats_total(herald.port(), "commands_failed"), 0u);
    EXPECT_EQ(herald.stop(SIGTERM), 0);
}

TEST(KernelPaths, SqpollOnAGivenCpuServes) {
    HeraldProcess herald({"--workers", "1", "--sqpoll=0"});
    ASSERT_TRUE(herald.ok());
    const std::string err = herald.stderr_text();
    EXPECT_NE(err.find("event=sqpoll state=on cpu=0"), std::string::npos) << err;
    expect_exact_delivery(herald.port(), 1);
}

TEST(KernelPaths, BusyPollServesAndSaysWhatTookEffect) {
    HeraldProcess herald({"--workers", "1", "--busy-poll-us", "50"});
    ASSERT_TRUE(herald.ok());
    const std::string err = herald.stderr_text();
    EXPECT_EQ(count_of(err, "event=busy_poll"), 1u) << err;
    // Linux 6.9+ has IORING_REGISTER_NAPI; an older kernel says so and herald goes on.
    const bool on = err.find("event=busy_poll state=on busy_poll_us=50") != std::string::npos;
    const bool off = err.find("event=busy_poll state=off") != std::string::npos;
    EXPECT_TRUE(on || off) << err;
    expect_exact_delivery(herald.port(), 2);
}

}  // namespace
}  // namespace herald::test
