#include "net/endpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace herald::net {
namespace {

TEST(Endpoint, ParsesAnIpv4AddressAndPort) {
    auto ep = parse_endpoint("127.0.0.1:1234");
    ASSERT_TRUE(ep) << ep.error();
    EXPECT_EQ(ep->addr.ss_family, AF_INET);
    EXPECT_EQ(ep->port(), 1234);
    EXPECT_EQ(ep->to_string(), "127.0.0.1:1234");
}

TEST(Endpoint, ParsesABracketedIpv6Address) {
    auto ep = parse_endpoint("[::1]:80");
    ASSERT_TRUE(ep) << ep.error();
    EXPECT_EQ(ep->addr.ss_family, AF_INET6);
    EXPECT_EQ(ep->port(), 80);
    EXPECT_EQ(ep->to_string(), "[::1]:80");
}

TEST(Endpoint, AcceptsPortZeroAndTheLargestPort) {
    auto zero = parse_endpoint("0.0.0.0:0");
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->port(), 0);
    auto top = parse_endpoint("127.0.0.1:65535");
    ASSERT_TRUE(top);
    EXPECT_EQ(top->port(), 65535);
}

TEST(Endpoint, ResolvesLocalhost) {
    auto ep = parse_endpoint("localhost:0");
    ASSERT_TRUE(ep) << ep.error();
    EXPECT_EQ(ep->port(), 0);
}

TEST(Endpoint, RejectsAMissingPort) {
    auto ep = parse_endpoint("127.0.0.1");
    ASSERT_FALSE(ep);
    EXPECT_NE(ep.error().find("no port"), std::string::npos) << ep.error();
}

TEST(Endpoint, RejectsPortsThatAreNotNumbersInRange) {
    for (const char* text : {"127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:12x", "127.0.0.1:-1"}) {
        auto ep = parse_endpoint(text);
        ASSERT_FALSE(ep) << text;
        EXPECT_NE(ep.error().find("0 to 65535"), std::string::npos) << ep.error();
    }
}

TEST(Endpoint, RejectsAnUnbracketedIpv6Address) {
    auto ep = parse_endpoint("::1:80");
    ASSERT_FALSE(ep);
    EXPECT_NE(ep.error().find("[brackets]"), std::string::npos) << ep.error();
}

TEST(Endpoint, RejectsAnUnterminatedBracket) {
    for (const char* text : {"[::1", "[::1]", "[::1]80"}) {
        auto ep = parse_endpoint(text);
        ASSERT_FALSE(ep) << text;
        EXPECT_NE(ep.error().find("unterminated"), std::string::npos) << ep.error();
    }
}

TEST(Endpoint, RejectsAnEmptyHost) {
    auto ep = parse_endpoint(":80");
    ASSERT_FALSE(ep);
    EXPECT_NE(ep.error().find("empty host"), std::string::npos) << ep.error();
}

TEST(Endpoint, ErrorsQuoteTheTextAndTheExpectedForm) {
    auto ep = parse_endpoint("nonsense");
    ASSERT_FALSE(ep);
    EXPECT_NE(ep.error().find("'nonsense'"), std::string::npos) << ep.error();
    EXPECT_NE(ep.error().find("HOST:PORT"), std::string::npos) << ep.error();
}

TEST(Endpoint, ListenOnResolvesPortZero) {
    auto ep = parse_endpoint("127.0.0.1:0");
    ASSERT_TRUE(ep);
    Endpoint bound = *ep;
    auto fd = listen_on(bound, ListenOptions{});
    ASSERT_TRUE(fd) << fd.error();
    EXPECT_NE(bound.port(), 0);
    close(*fd);
}

}  // namespace
}  // namespace herald::net
