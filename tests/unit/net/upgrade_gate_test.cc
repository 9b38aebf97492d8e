// Tests for UpgradeGate: the order of its checks, the permissions it keeps per slot, and the
// per-IP count it gives back on release.
#include "net/upgrade_gate.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <jwt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace herald::net {
namespace {

constexpr std::string_view kSecret = "an HS256 secret of at least 32 bytes!";

std::shared_ptr<const ConnectTokenVerifier> hs256_verifier() {
    const std::string path = "/tmp/herald-gate-test-" + std::to_string(getpid()) + ".key";
    std::ofstream(path) << kSecret;
    auto v = ConnectTokenVerifier::load(path);
    std::filesystem::remove(path);
    EXPECT_TRUE(v) << v.error();
    return std::make_shared<const ConnectTokenVerifier>(std::move(*v));
}

std::string token(const std::string& extra_claims = {}) {
    jwt_t* jwt = nullptr;
    jwt_new(&jwt);
    const std::string claims =
        R"({"exp":)" + std::to_string(std::time(nullptr) + 300) + extra_claims + "}";
    jwt_add_grants_json(jwt, claims.c_str());
    jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(kSecret.data()),
                static_cast<int>(kSecret.size()));
    char* text = jwt_encode_str(jwt);
    std::string out = text;
    std::free(text);
    jwt_free(jwt);
    return out;
}

RequestHead upgrade(std::string_view target, std::string_view origin = {}) {
    RequestHead req;
    req.verdict = HeadVerdict::kUpgrade;
    req.target = target;
    req.origin = origin;
    req.has_origin = !origin.empty();
    return req;
}

// Both ends of a TCP connection on 127.0.0.1 (the server's end is what the gate sees).
struct TcpPair {
    int client = -1, server = -1;
    TcpPair() {
        const int listener = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        listen(listener, 4);
        getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
        client = socket(AF_INET, SOCK_STREAM, 0);
        connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        server = accept(listener, nullptr, nullptr);
        close(listener);
    }
    ~TcpPair() {
        close(client);
        close(server);
    }
};

TEST(UpgradeGate, AdmitsEverythingWhenNothingIsConfigured) {
    UpgradeGate gate({}, nullptr, 0, 8);
    EXPECT_EQ(gate.admit(0, -1, upgrade("/", "https://any.example"), 0).verdict,
              GateVerdict::kAdmitted);
    EXPECT_EQ(gate.permissions(0), nullptr);
}

TEST(UpgradeGate, ChecksOriginBeforeTheToken) {
    auto origins = OriginAllowList::parse("https://a.example");
    ASSERT_TRUE(origins);
    UpgradeGate gate(std::move(*origins), hs256_verifier(), 0, 8);
    const GateAnswer a = gate.admit(0, -1, upgrade("/", "https://b.example"), std::time(nullptr));
    EXPECT_EQ(a.verdict, GateVerdict::kOriginRefused);
    EXPECT_EQ(a.status, 403);
    const GateAnswer b = gate.admit(0, -1, upgrade("/", "https://a.example"), std::time(nullptr));
    EXPECT_EQ(b.verdict, GateVerdict::kTokenRefused);
    EXPECT_EQ(b.status, 401);
    EXPECT_EQ(b.reason, verdict_reason(TokenVerdict::kMissing));
}

TEST(UpgradeGate, PrefersTheAuthorizationHeaderToTheQuery) {
    UpgradeGate gate({}, hs256_verifier(), 0, 8);
    const std::string good = "/?token=" + token();
    RequestHead req = upgrade(good);
    req.authorization = "Bearer not-a-token";
    EXPECT_EQ(gate.admit(0, -1, req, std::time(nullptr)).reason,
              verdict_reason(TokenVerdict::kMalformed));
    req.authorization = {};
    EXPECT_EQ(gate.admit(0, -1, req, std::time(nullptr)).verdict, GateVerdict::kAdmitted);
}

TEST(UpgradeGate, KeepsNarrowedPermissionsUntilRelease) {
    UpgradeGate gate({}, hs256_verifier(), 0, 8);
    const std::string target = "/?token=" + token(R"(,"groups":["a*"],"publish":[])");
    ASSERT_EQ(gate.admit(3, -1, upgrade(target), std::time(nullptr)).verdict,
              GateVerdict::kAdmitted);
    const ConnectPermissions* p = gate.permissions(3);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->may_join("abc"));
    EXPECT_FALSE(p->may_join("b"));
    EXPECT_FALSE(p->may_publish("abc"));
    gate.release(3);
    EXPECT_EQ(gate.permissions(3), nullptr);

    const std::string plain = "/?token=" + token();
    ASSERT_EQ(gate.admit(4, -1, upgrade(plain), std::time(nullptr)).verdict,
              GateVerdict::kAdmitted);
    EXPECT_EQ(gate.permissions(4), nullptr);  // nothing narrowed: nothing kept
}

TEST(UpgradeGate, CountsPeersAndGivesTheCountBackOnRelease) {
    UpgradeGate gate({}, nullptr, 1, 8);
    TcpPair one, two;
    EXPECT_EQ(gate.admit(0, one.server, upgrade("/"), 0).verdict, GateVerdict::kAdmitted);
    const GateAnswer over = gate.admit(1, two.server, upgrade("/"), 0);
    EXPECT_EQ(over.verdict, GateVerdict::kOverIpLimit);
    EXPECT_EQ(over.status, 503);
    gate.release(1);  // a refused slot holds no count: releasing it changes nothing
    EXPECT_EQ(gate.admit(1, two.server, upgrade("/"), 0).verdict, GateVerdict::kOverIpLimit);
    gate.release(0);
    EXPECT_EQ(gate.admit(1, two.server, upgrade("/"), 0).verdict, GateVerdict::kAdmitted);
}

}  // namespace
}  // namespace herald::net
