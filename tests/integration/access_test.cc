// Who may upgrade: connect tokens (--jwt-key), their claims, --allowed-origins and
// --max-conns-per-ip, against the real binary. Tokens are signed with libjwt in the test; keys
// are made with OpenSSL.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/support/herald_process.h"
#include "tests/support/jwt_test_keys.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

constexpr std::string_view kSecret = test::kJwtSecret;

// Claims with exp `seconds` from now, and `extra` fields (",\"groups\":[...]").
std::string claims(std::int64_t seconds, const std::string& extra = {}) {
    return R"({"exp":)" + std::to_string(std::time(nullptr) + seconds) + extra + "}";
}

bool switched(const std::string& response) { return response.starts_with("HTTP/1.1 101 "); }

// Sends an upgrade request for `target` with `headers` ("Name: value\r\n" lines) and returns the
// response head and what follows it as far as it came within 5 s.
std::string upgrade(std::uint16_t port, const std::string& target, const std::string& headers) {
    const std::string request = "GET " + target +
                                " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
                                headers + "\r\n";
    const int fd = tcp_connect(port);
    if (fd < 0) return {};
    std::string got;
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        char buf[4096];
        // A 101 is complete at its blank line; a refusal ends with herald's FIN after the body.
        while (got.find("\r\n\r\n") == std::string::npos || !switched(got)) {
            pollfd p{fd, POLLIN, 0};
            if (std::chrono::steady_clock::now() >= deadline || ::poll(&p, 1, 100) < 0) break;
            if (p.revents == 0) continue;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            got.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return got;
}

// The body line of a refusal ("" when there is none).
std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
}

TEST(ConnectToken, WithoutJwtKeyNoTokenIsNeeded) {
    HeraldProcess herald({"--workers", "1"});
    ASSERT_TRUE(herald.ok());
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "")));
}

TEST(ConnectToken, Hs256TokenInTheQueryOrTheHeaderIsAccepted) {
    KeyDir dir;
    HeraldProcess herald({"--workers", "1", "--jwt-key", dir.write("hs.key", kSecret)});
    ASSERT_TRUE(herald.ok());
    const std::string token = sign(JWT_ALG_HS256, kSecret, claims(300));
    EXPECT_TRUE(switched(upgrade(herald.port(), "/?token=" + token, "")));
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "Authorization: Bearer " + token + "\r\n")));
    auto ws = WsClient::connect(herald.port(), nullptr, "/?x=1&token=" + token);
    ASSERT_TRUE(ws);
    EXPECT_TRUE(ws->sync());
    EXPECT_EQ(stats_total(herald.port(), "upgrades_refused_auth"), 0u);
}

TEST(ConnectToken, Rs256AndEs256TokensVerifyWithThePublicKey) {
    for (const bool rsa : {true, false}) {
        SCOPED_TRACE(rsa ? "RS256" : "ES256");
        KeyDir dir;
        const KeyPair pair = make_key_pair(rsa);
        HeraldProcess herald({"--workers", "1", "--jwt-key", dir.write("pub.pem", pair.public_pem),
                              "--jwt-audience", "herald"});
        ASSERT_TRUE(herald.ok());
        const jwt_alg_t alg = rsa ? JWT_ALG_RS256 : JWT_ALG_ES256;
        const std::string good = sign(alg, pair.private_pem, claims(300, R"(,"aud":"herald")"));
        EXPECT_TRUE(switched(upgrade(herald.port(), "/?token=" + good, "")));
        const std::string other = sign(alg, pair.private_pem, claims(300, R"(,"aud":"other")"));
        const std::string refused = upgrade(herald.port(), "/?token=" + other, "");
        EXPECT_TRUE(refused.starts_with("HTTP/1.1 401 ")) << refused;
        // The public key's algorithm only: an HS256 token "signed" with the PEM text is refused.
        const std::string confused = sign(JWT_ALG_HS256, pair.public_pem, claims(300));
        EXPECT_EQ(body_of(upgrade(herald.port(), "/?token=" + confused, "")),
                  "token algorithm not accepted\n");
    }
}

TEST(ConnectToken, MissingExpiredForgedAndUnsignedTokensGet401WithTheReason) {
    KeyDir dir;
    HeraldProcess herald({"--workers", "1", "--jwt-key", dir.write("hs.key", kSecret)});
    ASSERT_TRUE(herald.ok());
    const std::string forged =
        sign(JWT_ALG_HS256, "another secret, also of at least 32 bytes", claims(300));
    const std::string unsigned_token = sign(JWT_ALG_NONE, "", claims(300));
    const std::pair<std::string, std::string> cases[] = {
        {"/", "token required (?token= or Authorization: Bearer)\n"},
        {"/?token=" + sign(JWT_ALG_HS256, kSecret, claims(-3600)), "token expired\n"},
        {"/?token=" + forged, "token signature invalid\n"},
        {"/?token=" + unsigned_token, "token algorithm not accepted\n"},
        {"/?token=not-a-jwt", "token malformed\n"},
    };
    for (const auto& [target, reason] : cases) {
        const std::string r = upgrade(herald.port(), target, "");
        EXPECT_TRUE(r.starts_with("HTTP/1.1 401 Unauthorized\r\n")) << target << "\n" << r;
        EXPECT_NE(r.find("WWW-Authenticate: Bearer\r\n"), std::string::npos) << r;
        EXPECT_EQ(body_of(r), reason) << target;
    }
    EXPECT_EQ(stats_total(herald.port(), "upgrades_refused_auth"), std::size(cases));
    EXPECT_EQ(stats_total(herald.port(), "upgrades"), 0u);
}

TEST(ConnectToken, ClaimsNarrowJoinAndPublishWithForbidden) {
    KeyDir dir;
    HeraldProcess herald({"--workers", "1", "--jwt-key", dir.write("hs.key", kSecret)});
    ASSERT_TRUE(herald.ok());
    const std::string token = sign(JWT_ALG_HS256, kSecret,
                                   claims(300, R"(,"groups":["chat.*"],"publish":["chat.news"])"));
    auto ws = WsClient::connect(herald.port(), nullptr, "/?token=" + token);
    ASSERT_TRUE(ws);
    ASSERT_TRUE(ws->add_group("other"));
    auto refused = ws->read_text();
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->find(R"("error":"forbidden")"), std::string::npos) << *refused;
    ASSERT_TRUE(ws->add_group("chat.news"));
    ASSERT_TRUE(ws->sync());
    EXPECT_EQ(stats_total(herald.port(), "memberships"), 1u);

    ASSERT_TRUE(ws->send_to_group("chat.room", "no"));
    refused = ws->read_text();
    ASSERT_TRUE(refused);
    EXPECT_NE(refused->find(R"("error":"forbidden")"), std::string::npos) << *refused;
    ASSERT_TRUE(ws->send_to_group("chat.news", "yes"));
    const auto delivered = ws->read_text();  // a member of chat.news itself
    ASSERT_TRUE(delivered);
    EXPECT_EQ(*delivered, "yes");
    EXPECT_EQ(stats_total(herald.port(), "publishes"), 1u);

    // A token without those claims may do anything.
    auto open = WsClient::connect(herald.port(), nullptr,
                                  "/?token=" + sign(JWT_ALG_HS256, kSecret, claims(300)));
    ASSERT_TRUE(open);
    ASSERT_TRUE(open->add_group("other"));
    ASSERT_TRUE(open->sync());
    EXPECT_EQ(stats_total(herald.port(), "memberships"), 2u);
}

TEST(ConnectToken, UnreadableKeyFileStopsStartUpWithOneLine) {
    const RunResult r = run_program({herald_binary(), "--workers", "1", "--jwt-key", "/nonexist"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--jwt-key /nonexist: no such file"), std::string::npos) << r.err;
}

TEST(AllowedOrigins, OnlyListedOriginsMayUpgrade) {
    HeraldProcess herald(
        {"--workers", "1", "--allowed-origins", "https://a.example,https://b.example"});
    ASSERT_TRUE(herald.ok());
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "Origin: https://a.example\r\n")));
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "Origin: https://B.example\r\n")));
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "")));  // no Origin: not a browser
    const std::string r = upgrade(herald.port(), "/", "Origin: https://c.example\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 403 Forbidden\r\n")) << r;
    EXPECT_EQ(body_of(r), "origin not allowed\n");
    EXPECT_EQ(stats_total(herald.port(), "upgrades_refused_origin"), 1u);
}

TEST(AllowedOrigins, StarAllowsEveryOrigin) {
    HeraldProcess herald({"--workers", "1", "--allowed-origins", "*"});
    ASSERT_TRUE(herald.ok());
    EXPECT_TRUE(switched(upgrade(herald.port(), "/", "Origin: https://c.example\r\n")));
}

TEST(MaxConnsPerIp, TheNextConnectionGets503UntilOneCloses) {
    HeraldProcess herald({"--workers", "1", "--max-conns-per-ip", "2"});
    ASSERT_TRUE(herald.ok());
    auto first = WsClient::connect(herald.port());
    auto second = WsClient::connect(herald.port());
    ASSERT_TRUE(first && second);
    const std::string r = upgrade(herald.port(), "/", "");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << r;
    EXPECT_EQ(body_of(r), "too many connections from this address\n");
    EXPECT_EQ(stats_total(herald.port(), "upgrades_refused_per_ip"), 1u);
    EXPECT_TRUE(stats_total(herald.port(), "upgrades") == 2u);  // GET /stats is not counted

    first->send_close(1000);
    EXPECT_EQ(first->read_until_close(), 1000);
    EXPECT_TRUE(first->wait_eof());
    first.reset();
    // The count goes down once herald has released the connection.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool admitted = false;
    while (!admitted && std::chrono::steady_clock::now() < deadline) {
        admitted = switched(upgrade(herald.port(), "/", ""));
        if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(admitted);
}

}  // namespace
}  // namespace herald::test
