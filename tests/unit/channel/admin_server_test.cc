// AdminServer over real sockets on 127.0.0.1: request framing (RFC 9112), the token, the limits.
#include "channel/admin_server.h"

#include <gtest/gtest.h>

#include "tests/support/admin_harness.h"

namespace herald::channel {
namespace {

using test::exchange;
using test::post;

constexpr std::string_view kBody = R"({"group_id":"g1","message":"hi"})";

class AdminServerTest : public ::testing::Test {
  protected:
    AdminOptions options() {
        AdminOptions o;
        o.token = "s3cret";
        o.body.max_message = 1024;
        return o;
    }
    static std::string auth() { return "Authorization: Bearer s3cret\r\n"; }
    test::FakeHandler handler_;
};

TEST_F(AdminServerTest, PublishesOneMessageAnswering202) {
    test::ServerLoop loop(options(), handler_);
    const auto a = exchange(loop.port(), post(kBody, auth()));
    EXPECT_EQ(a.status, 202);
    EXPECT_EQ(a.body, R"({"accepted":true})");
    ASSERT_EQ(handler_.published().size(), 1u);
    EXPECT_EQ(handler_.published()[0].first, "g1");
    EXPECT_EQ(handler_.published()[0].second, "hi");
}

TEST_F(AdminServerTest, RejectsTwoHostLinesWith400) {
    test::ServerLoop loop(options(), handler_);
    const auto a = exchange(loop.port(), post(kBody, auth() + "Host: other\r\n"));
    EXPECT_EQ(a.status, 400);
    EXPECT_TRUE(handler_.published().empty());
}

TEST_F(AdminServerTest, RejectsHttp11RequestWithoutHostWith400) {
    test::ServerLoop loop(options(), handler_);
    EXPECT_EQ(exchange(loop.port(), "GET /stats HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(exchange(loop.port(), "GET /stats HTTP/1.0\r\n\r\n").status, 200);
}

TEST_F(AdminServerTest, AcceptsAbsoluteFormTarget) {
    test::ServerLoop loop(options(), handler_);
    const std::string target = "http://127.0.0.1:" + std::to_string(loop.port()) + "/publish";
    EXPECT_EQ(exchange(loop.port(), post(kBody, auth(), target)).status, 202);
    EXPECT_EQ(handler_.published().size(), 1u);
}

TEST_F(AdminServerTest, RoutesPathWithQueryString) {
    test::ServerLoop loop(options(), handler_);
    EXPECT_EQ(exchange(loop.port(), post(kBody, auth(), "/publish?src=cron")).status, 202);
    EXPECT_EQ(handler_.published().size(), 1u);
}

TEST_F(AdminServerTest, AnswersExpect100ContinueAtOnce) {
    test::ServerLoop loop(options(), handler_);
    const int fd = test::connect_to(loop.port());
    std::string head = post(kBody, auth() + "Expect: 100-continue\r\n");
    head.resize(head.size() - kBody.size());
    const auto t0 = std::chrono::steady_clock::now();
    test::send_all(fd, head);
    const std::string cont =
        test::read_until(fd, 2000, [](std::string_view s) { return s.find("\r\n\r\n") != s.npos; });
    EXPECT_EQ(cont.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << cont;
    test::send_all(fd, kBody);
    const std::string in =
        test::read_until(fd, 2000, [](std::string_view s) { return test::answer_length(s) != 0; });
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(test::parse_answer(in, false).status, 202);
    EXPECT_LT(took, std::chrono::milliseconds(200));
    close(fd);
}

TEST_F(AdminServerTest, AcceptsChunkedBody) {
    test::ServerLoop loop(options(), handler_);
    const std::string req = "POST /publish HTTP/1.1\r\nHost: x\r\n" + auth() +
                            "Transfer-Encoding: chunked\r\n\r\n"
                            "10\r\n{\"group_id\":\"g1\"\r\n"
                            "10\r\n,\"message\":\"hi\"}\r\n0\r\n\r\n";
    EXPECT_EQ(exchange(loop.port(), req).status, 202);
    ASSERT_EQ(handler_.published().size(), 1u);
    EXPECT_EQ(handler_.published()[0].second, "hi");
}

TEST_F(AdminServerTest, ServesSeveralRequestsOnOneKeepAliveConnection) {
    test::ServerLoop loop(options(), handler_);
    const int fd = test::connect_to(loop.port());
    for (int i = 0; i < 3; ++i) {  // one after another
        test::send_all(fd, post(kBody, auth()));
        const std::string in = test::read_until(
            fd, 2000, [](std::string_view s) { return test::answer_length(s) != 0; });
        EXPECT_EQ(test::parse_answer(in, false).status, 202);
    }
    const std::string three =
        post(kBody, auth()) + "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n" + post(kBody, auth());
    test::send_all(fd, three);  // pipelined
    std::string in = test::read_until(fd, 2000, [](std::string_view s) {
        return std::count(s.begin(), s.end(), '}') >= 3 && s.rfind("accepted") > s.find("workers");
    });
    EXPECT_EQ(std::count(in.begin(), in.end(), '}'), 3) << in;
    EXPECT_EQ(handler_.published().size(), 5u);
    close(fd);
}

TEST_F(AdminServerTest, RejectsWrongOrMissingTokenWith401) {
    test::ServerLoop loop(options(), handler_);
    const auto wrong = exchange(loop.port(), post(kBody, "Authorization: Bearer nope\r\n"));
    EXPECT_EQ(wrong.status, 401);
    EXPECT_NE(wrong.head.find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(exchange(loop.port(), post(kBody)).status, 401);
    EXPECT_TRUE(handler_.published().empty());
}

TEST_F(AdminServerTest, ChecksTokenBeforeReadingTheBody) {
    test::ServerLoop loop(options(), handler_);
    std::string head = post(kBody, "Expect: 100-continue\r\n");
    head.resize(head.size() - kBody.size());  // the head only: no 100, the answer is 401
    EXPECT_EQ(exchange(loop.port(), head).status, 401);
}

TEST_F(AdminServerTest, RejectsOversizeBodyWith413) {
    AdminOptions o = options();
    o.max_body = 100;
    test::ServerLoop loop(o, handler_);
    const std::string big = R"({"group_id":"g","message":")" + std::string(200, 'x') + "\"}";
    EXPECT_EQ(exchange(loop.port(), post(big, auth())).status, 413);
    const std::string chunked = "POST /publish HTTP/1.1\r\nHost: x\r\n" + auth() +
                                "Transfer-Encoding: chunked\r\n\r\n80\r\n" + std::string(128, ' ') +
                                "\r\n0\r\n\r\n";
    EXPECT_EQ(exchange(loop.port(), chunked).status, 413);
    EXPECT_TRUE(handler_.published().empty());
}

TEST_F(AdminServerTest, RejectsMessageOverMaxMessageWith413) {
    test::ServerLoop loop(options(), handler_);
    const std::string big = R"({"group_id":"g","message":")" + std::string(1025, 'x') + "\"}";
    EXPECT_EQ(exchange(loop.port(), post(big, auth())).status, 413);
}

TEST_F(AdminServerTest, AnswersUnknownPath404AndWrongMethod405) {
    test::ServerLoop loop(options(), handler_);
    EXPECT_EQ(exchange(loop.port(), "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
    const auto get_publish = exchange(loop.port(), "GET /publish HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(get_publish.status, 405);
    EXPECT_NE(get_publish.head.find("Allow: POST"), std::string::npos);
    EXPECT_EQ(exchange(loop.port(), post("{}", auth(), "/stats")).status, 405);
}

TEST_F(AdminServerTest, AnswersBadJsonWith400AsToday) {
    test::ServerLoop loop(options(), handler_);
    const auto a = exchange(loop.port(), post(R"({"group_id":"g"})", auth()));
    EXPECT_EQ(a.status, 400);
    EXPECT_NE(a.body.find("missing_field"), std::string::npos);
}

TEST_F(AdminServerTest, ServesStatsMetricsHealthAndReadiness) {
    handler_.ready_ = false;
    test::ServerLoop loop(options(), handler_);
    const auto stats = exchange(loop.port(), "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(stats.status, 200);
    EXPECT_EQ(stats.body, handler_.stats_);
    const auto metrics = exchange(loop.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.head.find("text/plain; version=0.0.4"), std::string::npos);
    EXPECT_EQ(exchange(loop.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    const auto ready = exchange(loop.port(), "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(ready.status, 503);
    EXPECT_EQ(ready.body, R"({"ready":false})");
}

TEST_F(AdminServerTest, AnswersUnavailableWhenTheHubCannotPublish) {
    handler_.outcome_ = PublishOutcome::kUnavailable;
    test::ServerLoop loop(options(), handler_);
    EXPECT_EQ(exchange(loop.port(), post(kBody, auth())).status, 503);
}

}  // namespace
}  // namespace herald::channel
