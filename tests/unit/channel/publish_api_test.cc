// What remains of the hand-written publish API once libmicrohttpd frames requests: the error
// body and the token comparison (request framing is tested in admin_server_test.cc and
// tests/integration/admin_test.cc).
#include "channel/publish_api.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::channel {
namespace {

TEST(PublishApi, ErrorBodiesNameTheCodeAndDetail) {
    EXPECT_EQ(api_error("not_found", "no such path"),
              R"({"error":"not_found","detail":"no such path"})");
}

TEST(PublishApi, SecretsCompareWhole) {
    EXPECT_TRUE(same_secret("abc", "abc"));
    EXPECT_FALSE(same_secret("abc", "abd"));
    EXPECT_FALSE(same_secret("abc", "abcd"));
    EXPECT_FALSE(same_secret("", "a"));
}

}  // namespace
}  // namespace herald::channel
