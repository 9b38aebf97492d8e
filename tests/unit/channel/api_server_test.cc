#include "channel/api_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace herald::channel::hub {
namespace {

struct FakeBackend final : ApiBackend {
    std::vector<std::pair<std::string, std::string>> published;
    void publish(std::string_view g, std::span<const std::uint8_t> m) override {
        published.emplace_back(std::string(g), std::string(m.begin(), m.end()));
    }
    std::string stats() override { return "{\"fake\":1}"; }
};

// An API server on 127.0.0.1 and a client that sends raw HTTP.
struct Fixture {
    HubOptions options;
    Poller poller;
    FakeBackend backend;
    std::unique_ptr<ApiServer> api;

    explicit Fixture(std::string token = "", std::size_t max_conns = 4) {
        options.api_enabled = true;
        options.api_listen = net::parse_endpoint("127.0.0.1:0").value();
        options.api_token = std::move(token);
        options.max_api_conns = max_conns;
        EXPECT_TRUE(poller.open());
        api = std::make_unique<ApiServer>(options, poller, backend);
        EXPECT_TRUE(api->listen());
    }
    int connect_client() {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        const net::Endpoint& at = api->endpoint();
        EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&at.addr), at.addr_len), 0);
        return fd;
    }
    // Sends `request` and pumps until a whole response (or the connection's end) arrives.
    std::string exchange(int fd, const std::string& request) {
        EXPECT_EQ(send(fd, request.data(), request.size(), 0),
                  static_cast<ssize_t>(request.size()));
        std::string got;
        for (int i = 0; i < 500; ++i) {
            poller.wait(1);
            poller.end_batch();
            char buf[4096];
            const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) break;
            if (n > 0) got.append(buf, static_cast<std::size_t>(n));
            const std::size_t head = got.find("\r\n\r\n");
            const std::size_t cl = got.find("Content-Length: ");
            if (head != std::string::npos && cl != std::string::npos &&
                got.size() >= head + 4 + std::stoul(got.substr(cl + 16))) {
                break;
            }
        }
        return got;
    }
};

std::string post(const std::string& body, const std::string& extra = "") {
    return "POST /publish HTTP/1.1\r\nHost: x\r\n" + extra +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(ApiServer, APublishCrossesTheSeamAndIsAccepted) {
    Fixture f;
    const int fd = f.connect_client();
    const std::string r = f.exchange(fd, post(R"({"group_id":"room","message":"hi"})"));
    EXPECT_EQ(r.rfind("HTTP/1.1 202", 0), 0u) << r;
    ASSERT_EQ(f.backend.published.size(), 1u);
    EXPECT_EQ(f.backend.published[0], std::make_pair(std::string("room"), std::string("hi")));
    EXPECT_EQ(f.api->publishes(), 1u);
    EXPECT_EQ(f.api->rejected(), 0u);
    close(fd);
}

TEST(ApiServer, StatsAreTheBackendsAnswer) {
    Fixture f;
    const int fd = f.connect_client();
    const std::string r = f.exchange(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
    EXPECT_NE(r.find("{\"fake\":1}"), std::string::npos);
    close(fd);
}

TEST(ApiServer, AWrongTokenIs401AndPublishesNothing) {
    Fixture f("sesame");
    const int fd = f.connect_client();
    const std::string body = R"({"group_id":"room","message":"hi"})";
    std::string r = f.exchange(fd, post(body, "Authorization: Bearer nope\r\n"));
    EXPECT_EQ(r.rfind("HTTP/1.1 401", 0), 0u) << r;
    EXPECT_TRUE(f.backend.published.empty());
    r = f.exchange(fd, post(body, "Authorization: Bearer sesame\r\n"));
    EXPECT_EQ(r.rfind("HTTP/1.1 202", 0), 0u) << r;
    EXPECT_EQ(f.api->rejected(), 1u);
    close(fd);
}

TEST(ApiServer, UnknownPathsAndBadBodiesAreRejectedAndCounted) {
    Fixture f;
    const int fd = f.connect_client();
    EXPECT_EQ(f.exchange(fd, "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(f.exchange(fd, post("{not json")).rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_EQ(f.exchange(fd, "POST /stats HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                  .rfind("HTTP/1.1 405", 0),
              0u);
    EXPECT_EQ(f.api->rejected(), 3u);
    close(fd);
}

TEST(ApiServer, ConnectionsOverTheLimitAreAnswered503AndClosed) {
    Fixture f("", 1);
    const int first = f.connect_client();
    f.poller.wait(10);  // accept the first
    const int second = f.connect_client();
    const std::string r = f.exchange(second, "");
    EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
    EXPECT_EQ(f.api->connections(), 1u);
    close(first);
    close(second);
}

TEST(ApiServer, IdleConnectionsAreClosed) {
    Fixture f;
    const int fd = f.connect_client();
    f.poller.wait(10);
    ASSERT_EQ(f.api->connections(), 1u);
    f.api->close_idle(core::now_ns() + kApiIdle + core::kSecond);
    f.poller.end_batch();
    EXPECT_EQ(f.api->connections(), 0u);
    close(fd);
}

}  // namespace
}  // namespace herald::channel::hub
