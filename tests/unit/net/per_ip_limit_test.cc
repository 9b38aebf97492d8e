// Tests for PerIpLimit: --max-conns-per-ip counting, IPv4 and IPv6, removal, bounded table.
#include "net/per_ip_limit.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace herald::net {
namespace {

PeerIp v6(const char* text) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return PeerIp::from_sockaddr(reinterpret_cast<const sockaddr*>(&a));
}

PeerIp v4(const char* text) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return PeerIp::from_sockaddr(reinterpret_cast<const sockaddr*>(&a));
}

TEST(PerIpLimit, RefusesTheConnectionAfterTheLimit) {
    PerIpLimit limit(2, 100);
    const PeerIp ip = v4("10.0.0.1");
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kAdmitted);
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kAdmitted);
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kOverLimit);
    EXPECT_EQ(limit.count(ip), 2u);
    EXPECT_EQ(limit.add(v4("10.0.0.2")), PerIpAdmit::kAdmitted);
}

TEST(PerIpLimit, AdmitsAgainAfterARemove) {
    PerIpLimit limit(1, 100);
    const PeerIp ip = v6("2001:db8::1");
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kAdmitted);
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kOverLimit);
    limit.remove(ip);
    EXPECT_EQ(limit.addresses(), 0u);
    EXPECT_EQ(limit.add(ip), PerIpAdmit::kAdmitted);
}

TEST(PerIpLimit, CountsAnIpv4ClientOnceOnADualStackListener) {
    PerIpLimit limit(1, 100);
    EXPECT_EQ(limit.add(v4("192.0.2.7")), PerIpAdmit::kAdmitted);
    EXPECT_EQ(limit.add(v6("::ffff:192.0.2.7")), PerIpAdmit::kOverLimit);
    EXPECT_EQ(v4("192.0.2.7"), PeerIp::from_ipv4(0xC0000207));
}

TEST(PerIpLimit, TracksNothingWhenUnlimited) {
    PerIpLimit limit(0, 100);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(limit.add(v4("10.0.0.1")), PerIpAdmit::kAdmitted);
    EXPECT_EQ(limit.addresses(), 0u);
    limit.remove(v4("10.0.0.1"));
}

TEST(PerIpLimit, RefusesNewAddressesWhenTheTableIsFull) {
    PerIpLimit limit(5, 3);
    for (std::uint32_t i = 1; i <= 3; ++i) {
        EXPECT_EQ(limit.add(PeerIp::from_ipv4(i)), PerIpAdmit::kAdmitted);
    }
    EXPECT_EQ(limit.add(PeerIp::from_ipv4(4)), PerIpAdmit::kTableFull);
    EXPECT_EQ(limit.add(PeerIp::from_ipv4(1)), PerIpAdmit::kAdmitted);  // known address
}

TEST(PerIpLimit, KeepsCountsRightThroughRandomAddsAndRemoves) {
    constexpr std::size_t kAddresses = 500;
    PerIpLimit limit(4, kAddresses);
    std::vector<std::uint32_t> expected(kAddresses, 0);
    std::mt19937 rng(7);
    for (int step = 0; step < 50'000; ++step) {
        const auto a = static_cast<std::uint32_t>(rng() % kAddresses);
        const PeerIp ip = PeerIp::from_ipv4(0x0A000000u + a * 7919u);
        if (rng() % 2 == 0) {
            const PerIpAdmit r = limit.add(ip);
            EXPECT_EQ(r == PerIpAdmit::kAdmitted, expected[a] < 4);
            if (r == PerIpAdmit::kAdmitted) ++expected[a];
        } else if (expected[a] > 0) {
            limit.remove(ip);
            --expected[a];
        }
    }
    std::size_t live = 0;
    for (std::uint32_t a = 0; a < kAddresses; ++a) {
        ASSERT_EQ(limit.count(PeerIp::from_ipv4(0x0A000000u + a * 7919u)), expected[a]);
        if (expected[a] > 0) ++live;
    }
    EXPECT_EQ(limit.addresses(), live);
}

}  // namespace
}  // namespace herald::net
