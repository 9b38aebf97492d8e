#include "net/http_answer.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "net/http_handshake.h"

namespace herald::net {
namespace {

constexpr std::string_view kUpgrade =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

class HttpAnswerTest : public ::testing::Test {
  protected:
    ~HttpAnswerTest() override {
        if (conn.head != nullptr) conn.head->unref();
    }

    // The answer to `head`, as text.
    std::pair<HttpOutcome, std::string> answer(std::string_view head) {
        const HttpAnswer a = answer_request(head, 7, pool, render_stats);
        std::string text(reinterpret_cast<const char*>(a.response->bytes()), a.response->size);
        a.response->unref();
        return {a.outcome, text};
    }

    HeadSoFar feed(std::string& bytes) {
        return gather_head(conn, reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size(), pool);
    }

    core::BlockPool pool;
    Connection conn;
    std::function<std::string()> render_stats = [] { return std::string("{\"workers\":[]}"); };
};

TEST_F(HttpAnswerTest, AnUpgradeGets101NamingTheWorker) {
    const auto [outcome, text] = answer(kUpgrade);
    EXPECT_EQ(outcome, HttpOutcome::kUpgrade);
    EXPECT_TRUE(text.starts_with("HTTP/1.1 101 ")) << text;
    EXPECT_NE(text.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("X-Herald-Worker: 7\r\n"), std::string::npos) << text;
}

TEST_F(HttpAnswerTest, GetStatsIsAnsweredWithTheRenderedBody) {
    const auto [outcome, text] = answer("GET /stats?pretty HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(outcome, HttpOutcome::kPlain);
    EXPECT_TRUE(text.starts_with("HTTP/1.1 200 ")) << text;
    EXPECT_TRUE(text.ends_with("{\"workers\":[]}")) << text;
}

TEST_F(HttpAnswerTest, APlainGetElsewhereIsTold426) {
    const auto [outcome, text] = answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(outcome, HttpOutcome::kPlain);
    EXPECT_TRUE(text.starts_with("HTTP/1.1 426 ")) << text;
}

TEST_F(HttpAnswerTest, RefusedRequestsAreErrors) {
    EXPECT_EQ(answer("POST / HTTP/1.1\r\nHost: x\r\n\r\n").first, HttpOutcome::kError);
    EXPECT_TRUE(answer("POST / HTTP/1.1\r\nHost: x\r\n\r\n").second.starts_with("HTTP/1.1 405 "));
    EXPECT_TRUE(answer("garbage\r\n\r\n").second.starts_with("HTTP/1.1 400 "));
    const HttpAnswer big = too_large_answer(pool);
    EXPECT_EQ(big.outcome, HttpOutcome::kError);
    EXPECT_TRUE(
        std::string_view(reinterpret_cast<const char*>(big.response->bytes()), big.response->size)
            .starts_with("HTTP/1.1 431 "));
    big.response->unref();
}

TEST_F(HttpAnswerTest, AHeadThatArrivesWholeIsJudgedInPlace) {
    std::string bytes = std::string(kUpgrade) + "frame";
    const HeadSoFar head = feed(bytes);
    EXPECT_EQ(head.bytes, reinterpret_cast<std::uint8_t*>(bytes.data()));
    EXPECT_EQ(head.end, kUpgrade.size());
    EXPECT_EQ(head.size, bytes.size());
    EXPECT_FALSE(head.too_large);
    EXPECT_EQ(conn.head, nullptr);
}

TEST_F(HttpAnswerTest, AHeadInPiecesIsGatheredInABlock) {
    std::string first(kUpgrade.substr(0, 20));
    std::string rest(kUpgrade.substr(20));
    EXPECT_EQ(feed(first).end, 0u);
    ASSERT_NE(conn.head, nullptr);
    const HeadSoFar head = feed(rest);
    EXPECT_EQ(head.end, kUpgrade.size());
    EXPECT_EQ(head.bytes, conn.head->data());
    EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(head.bytes), head.end), kUpgrade);
}

TEST_F(HttpAnswerTest, AHeadOver8KiBIsTooLarge) {
    std::string bytes = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'a');
    const HeadSoFar head = feed(bytes);
    EXPECT_TRUE(head.too_large);
    EXPECT_EQ(conn.head, nullptr);  // nothing kept for a head that gets 431
}

}  // namespace
}  // namespace herald::net
