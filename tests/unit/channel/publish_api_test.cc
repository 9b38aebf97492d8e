#include "channel/publish_api.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::channel {
namespace {

// The request's views point into the text: it stays alive until the next call.
ApiRequest judge(const std::string& text, std::size_t max_body = 1000) {
    static std::string kept;
    kept = text;
    ApiRequest r;
    EXPECT_EQ(parse_api_head(kept, max_body, r), ApiHead::kComplete) << text;
    return r;
}

TEST(PublishApi, PostWithLengthAndBearerIsWellFormed) {
    const ApiRequest r = judge(
        "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
        "authorization: bearer s3cret\r\n\r\n{\"a\":1}");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/publish");
    EXPECT_EQ(r.content_length, 12u);
    EXPECT_EQ(r.bearer, "s3cret");
    EXPECT_TRUE(r.keep_alive);
}

TEST(PublishApi, IncompleteHeadNeedsMore) {
    ApiRequest r;
    EXPECT_EQ(parse_api_head("POST /publish HTTP/1.1\r\nContent-Le", 100, r), ApiHead::kNeedMore);
}

TEST(PublishApi, HeadOver8KiBIs431) {
    ApiRequest r;
    const std::string big = "GET /stats HTTP/1.1\r\nX: " + std::string(9000, 'a');
    ASSERT_EQ(parse_api_head(big, 100, r), ApiHead::kComplete);
    EXPECT_EQ(r.status, 431);
}

TEST(PublishApi, PostWithoutLengthOrChunkedIs411) {
    EXPECT_EQ(judge("POST /publish HTTP/1.1\r\n\r\n").status, 411);
    EXPECT_EQ(judge("POST /publish HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status, 411);
}

TEST(PublishApi, BodyOverTheLimitIs413) {
    EXPECT_EQ(judge("POST /publish HTTP/1.1\r\nContent-Length: 1001\r\n\r\n").status, 413);
}

TEST(PublishApi, MalformedRequestsAre400) {
    EXPECT_EQ(judge("POST\r\n\r\n").status, 400);
    EXPECT_EQ(judge("POST publish HTTP/1.1\r\n\r\n").status, 400);
    EXPECT_EQ(judge("GET /stats HTTP/1.1\r\nno colon\r\n\r\n").status, 400);
    EXPECT_EQ(judge("GET /stats HTTP/1.1\r\n folded: x\r\n\r\n").status, 400);
    EXPECT_EQ(judge("POST /p HTTP/1.1\r\nContent-Length: 1x\r\n\r\n").status, 400);
    EXPECT_EQ(judge("POST /p HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").status,
              400);
    EXPECT_EQ(judge("GET /stats HTTP/2.0\r\n\r\n").status, 505);
}

TEST(PublishApi, ConnectionCloseAndHttp10EndTheConnection) {
    EXPECT_FALSE(judge("GET /stats HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
    EXPECT_FALSE(judge("GET /stats HTTP/1.0\r\n\r\n").keep_alive);
}

TEST(PublishApi, ResponsesCarryLengthAndAuthChallenge) {
    const std::string r = api_response(401, "{}", true);
    EXPECT_EQ(r.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u);
    EXPECT_NE(r.find("Content-Length: 2\r\n"), std::string::npos);
    EXPECT_NE(r.find("WWW-Authenticate: Bearer\r\n"), std::string::npos);
    EXPECT_NE(r.find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(PublishApi, SecretsCompareWhole) {
    EXPECT_TRUE(same_secret("abc", "abc"));
    EXPECT_FALSE(same_secret("abc", "abd"));
    EXPECT_FALSE(same_secret("abc", "abcd"));
    EXPECT_FALSE(same_secret("", "a"));
}

}  // namespace
}  // namespace herald::channel
