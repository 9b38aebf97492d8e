// Tests for OriginAllowList: --allowed-origins parsing and the 403 decision (RFC 6455 §10.2).
#include "net/origin_allow_list.h"

#include <gtest/gtest.h>

namespace herald::net {
namespace {

TEST(OriginAllowList, AllowsEveryOriginWhenTheFlagIsAbsent) {
    const OriginAllowList list;
    EXPECT_TRUE(list.allows("https://evil.example"));
    EXPECT_TRUE(list.allows("", false));
}

TEST(OriginAllowList, AllowsOnlyListedOriginsExactly) {
    const OriginAllowList list =
        OriginAllowList::parse("https://a.example, https://b.example:8443").value();
    EXPECT_TRUE(list.allows("https://a.example"));
    EXPECT_TRUE(list.allows("https://b.example:8443"));
    EXPECT_FALSE(list.allows("https://b.example"));
    EXPECT_FALSE(list.allows("http://a.example"));
    EXPECT_FALSE(list.allows("https://a.example.evil.example"));
    EXPECT_FALSE(list.allows("https://sub.a.example"));
    EXPECT_FALSE(list.allows("null"));
    EXPECT_FALSE(list.allows(""));
}

TEST(OriginAllowList, ComparesSchemeAndHostCaseInsensitively) {
    const OriginAllowList list = OriginAllowList::parse("https://A.example").value();
    EXPECT_TRUE(list.allows("HTTPS://a.EXAMPLE"));
}

TEST(OriginAllowList, StarAllowsEveryOrigin) {
    const OriginAllowList list = OriginAllowList::parse("https://a.example,*").value();
    EXPECT_TRUE(list.allows_any());
    EXPECT_TRUE(list.allows("https://z.example"));
}

TEST(OriginAllowList, AllowsARequestWithoutOrigin) {
    const OriginAllowList list = OriginAllowList::parse("https://a.example").value();
    EXPECT_TRUE(list.allows("", false));
}

TEST(OriginAllowList, AllowsNullOnlyWhenListed) {
    EXPECT_TRUE(OriginAllowList::parse("null").value().allows("null"));
}

TEST(OriginAllowList, RefusesMalformedLists) {
    EXPECT_EQ(OriginAllowList::parse("").error(), "--allowed-origins: '' empty entry");
    EXPECT_EQ(OriginAllowList::parse("https://a.example,").error(),
              "--allowed-origins: '' empty entry");
    EXPECT_EQ(OriginAllowList::parse("a.example").error(),
              "--allowed-origins: 'a.example' has no scheme://");
    EXPECT_EQ(OriginAllowList::parse("https://a.example/x").error(),
              "--allowed-origins: 'https://a.example/x' has a path");
}

}  // namespace
}  // namespace herald::net
