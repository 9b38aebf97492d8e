// The multi-host test bed: hosts in network namespaces reach each other over veth pairs and a
// bridge, a cut link is a partition (bytes vanish, nothing is reset), and herald runs inside a
// host as it would on a machine of its own.
#include "tests/support/netns.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

// A listening socket on `address`:0; returns the descriptor and sets `port`.
int listen_on(const std::string& address, std::uint16_t& port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
}

// Reads exactly n bytes within timeout_ms (empty on timeout or EOF).
std::string read_within(int fd, std::size_t n, int timeout_ms) {
    std::string out;
    while (out.size() < n) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return {};
        char buf[256];
        const ssize_t got = read(fd, buf, std::min(sizeof buf, n - out.size()));
        if (got <= 0) return {};
        out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
}

TEST(NetnsHosts, HostsReachEachOtherAndACutLinkIsAPartition) {
    NetnsHosts hosts(2);
    if (!hosts.ok()) GTEST_SKIP() << "no network namespaces here: " << hosts.error();
    std::uint16_t port = 0;
    const int listener = hosts.in(0, [&] { return listen_on(hosts.address(0), port); });
    ASSERT_GE(listener, 0);
    const int client = hosts.in(1, [&] { return tcp_connect(port, hosts.address(0).c_str()); });
    ASSERT_GE(client, 0);
    const int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(server, 0);
    ASSERT_EQ(write(client, "ab", 2), 2);
    EXPECT_EQ(read_within(server, 2, 3000), "ab");

    ASSERT_TRUE(hosts.cut(0));
    ASSERT_EQ(write(client, "cd", 2), 2);  // no error: the bytes just vanish
    EXPECT_EQ(read_within(server, 2, 700), "");

    ASSERT_TRUE(hosts.heal(0));
    EXPECT_EQ(read_within(server, 2, 8000), "cd");  // TCP retransmits them
    close(server);
    close(client);
    close(listener);
}

TEST(NetnsHosts, HeraldInsideAHostServesItsOwnLoopback) {
    NetnsHosts hosts(1);
    if (!hosts.ok()) GTEST_SKIP() << "no network namespaces here: " << hosts.error();
    auto herald = hosts.in(0, [] {
        return std::make_unique<HeraldProcess>(std::vector<std::string>{"--workers", "1"});
    });
    ASSERT_TRUE(herald->ok());
    auto ws = hosts.in(0, [&] { return WsClient::connect(herald->port()); });
    ASSERT_NE(ws, nullptr);
    ASSERT_TRUE(ws->add_group("g"));
    ASSERT_TRUE(ws->send_to_group("g", "inside"));
    EXPECT_EQ(ws->read_text(), "inside");
}

}  // namespace
}  // namespace herald::test
