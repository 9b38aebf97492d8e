// The HTTP side against the real server: every malformed or unusual request gets its status,
// and the server keeps serving WebSocket clients.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

const std::string kUpgrade =
    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

std::string status_line(const std::string& response) {
    return response.substr(0, response.find("\r\n"));
}

class Http : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(herald_.ok()) << herald_.stderr_text(); }
    std::string Exchange(std::string_view request) {
        return http_exchange(herald_.port(), request);
    }
    void ExpectWebSocketStillServed() {
        auto ws = WsClient::connect(herald_.port());
        ASSERT_TRUE(ws);
        ws->add_group("x");
        ws->send_to_group("x", "served");
        EXPECT_EQ(ws->read_text(), "served");
    }
    HeraldProcess herald_{{"--handshake-timeout", "300ms", "--workers", "2"}};
};

TEST_F(Http, PlainGetGetsASmallAnswerNotACrash) {
    const std::string r = Exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 426 Upgrade Required");
    EXPECT_NE(r.find("WebSocket endpoint"), std::string::npos);
    ExpectWebSocketStillServed();
}

TEST_F(Http, StatsAnswersJson) {
    const std::string r = Exchange("GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
    EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos);
    EXPECT_NE(r.find("\"connections\":"), std::string::npos);
}

TEST_F(Http, WrongVersionGets426WithSupportedVersion) {
    std::string req = kUpgrade;
    req.replace(req.find("Version: 13"), 11, "Version: 8");
    const std::string r = Exchange(req);
    EXPECT_EQ(status_line(r), "HTTP/1.1 426 Upgrade Required");
    EXPECT_NE(r.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST_F(Http, MalformedRequestsGet400) {
    const std::string cases[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n",  // no key
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",  // 5-byte key
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        std::string("GET / HTTP/1.1\r\nHost: \0x\r\n\r\n", 28),
    };
    for (const std::string& req : cases) {
        EXPECT_EQ(status_line(Exchange(req)), "HTTP/1.1 400 Bad Request") << req;
    }
    ExpectWebSocketStillServed();
}

TEST_F(Http, OtherMethodsGet405) {
    const std::string r = Exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(status_line(r), "HTTP/1.1 405 Method Not Allowed");
    EXPECT_NE(r.find("Allow: GET"), std::string::npos);
}

TEST_F(Http, HeadOver8KiBGets431) {
    std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
    EXPECT_EQ(status_line(Exchange(req)), "HTTP/1.1 431 Request Header Fields Too Large");
    std::string endless = "GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a');
    EXPECT_EQ(status_line(Exchange(endless)), "HTTP/1.1 431 Request Header Fields Too Large");
    ExpectWebSocketStillServed();
}

TEST_F(Http, UpgradeSentOneByteAtATimeWorks) {
    const int fd = tcp_connect(herald_.port());
    ASSERT_GE(fd, 0);
    for (char ch : kUpgrade) {
        ASSERT_EQ(send(fd, &ch, 1, 0), 1);
        usleep(200);
    }
    char buf[512] = {};
    ASSERT_GT(recv(fd, buf, sizeof buf - 1, 0), 0);
    EXPECT_TRUE(std::string(buf).starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << buf;
    EXPECT_NE(std::string(buf).find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos);
    close(fd);
}

TEST_F(Http, SilentClientIsDroppedAfterTheHandshakeTimeout) {
    const int fd = tcp_connect(herald_.port());
    ASSERT_GE(fd, 0);
    send(fd, "GET / HT", 8, 0);
    timeval tv{3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    EXPECT_LE(recv(fd, buf, sizeof buf, 0), 0) << "closed, not left hanging";
    close(fd);
}

TEST_F(Http, ResponseCarriesTheWorkerHeader) {
    auto ws = WsClient::connect(herald_.port());
    ASSERT_TRUE(ws);
    const std::string worker = ws->response_header("x-herald-worker");
    EXPECT_TRUE(worker == "0" || worker == "1") << worker;  // default: one worker per CPU (2)
}

}  // namespace
}  // namespace herald::test
