// Tests for connect tokens: keys, signatures, algorithms, times, audience, claims, token
// extraction, and a bounded fuzz of mutated tokens. Tokens are signed with libjwt in the test.
#include "net/connect_token.h"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "tests/support/jwt_test_keys.h"

namespace herald::net {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::string_view kSecret = test::kJwtSecret;
using test::KeyDir;
using test::KeyPair;
using test::make_key_pair;
using test::sign;

std::string exp_in(std::int64_t seconds) {
    return R"({"exp":)" + std::to_string(kNow + seconds) + "}";
}

ConnectTokenVerifier hs256_verifier(const KeyDir& dir, std::string audience = {}) {
    return ConnectTokenVerifier::load(dir.write("secret", std::string(kSecret) + "\n"),
                                      std::move(audience))
        .value();
}

TEST(ConnectToken, AcceptsAValidHs256Token) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    EXPECT_EQ(v.kind(), ConnectTokenVerifier::KeyKind::kHs256);
    const TokenCheck c = v.verify(sign(JWT_ALG_HS256, kSecret, exp_in(60)), kNow);
    EXPECT_EQ(c.verdict, TokenVerdict::kOk);
    EXPECT_TRUE(c.permissions.may_join("any"));
    EXPECT_TRUE(c.permissions.may_publish("any"));
}

TEST(ConnectToken, AcceptsValidRs256AndEs256Tokens) {
    KeyDir dir;
    for (const bool rsa : {true, false}) {
        const KeyPair kp = make_key_pair(rsa);
        const ConnectTokenVerifier v =
            ConnectTokenVerifier::load(dir.write(rsa ? "rsa.pub" : "ec.pub", kp.public_pem))
                .value();
        EXPECT_EQ(v.kind(), rsa ? ConnectTokenVerifier::KeyKind::kRs256
                                : ConnectTokenVerifier::KeyKind::kEs256);
        const std::string token =
            sign(rsa ? JWT_ALG_RS256 : JWT_ALG_ES256, kp.private_pem, exp_in(60));
        EXPECT_EQ(v.verify(token, kNow).verdict, TokenVerdict::kOk) << (rsa ? "RS256" : "ES256");
    }
}

TEST(ConnectToken, RefusesExpiredTokensBeyondTheLeeway) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    const std::string token = sign(JWT_ALG_HS256, kSecret, exp_in(0));
    EXPECT_EQ(v.verify(token, kNow - ConnectTokenVerifier::kLeewaySeconds).verdict,
              TokenVerdict::kOk);
    const TokenCheck c = v.verify(token, kNow + ConnectTokenVerifier::kLeewaySeconds);
    EXPECT_EQ(c.verdict, TokenVerdict::kExpired);
    EXPECT_FALSE(c.permissions.may_join("any"));
    EXPECT_EQ(verdict_reason(c.verdict), "token expired");
}

TEST(ConnectToken, RefusesTokensNotYetValid) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    const std::string claims =
        R"({"exp":)" + std::to_string(kNow + 600) + R"(,"nbf":)" + std::to_string(kNow + 60) + "}";
    const std::string token = sign(JWT_ALG_HS256, kSecret, claims);
    EXPECT_EQ(v.verify(token, kNow).verdict, TokenVerdict::kNotYetValid);
    EXPECT_EQ(v.verify(token, kNow + 55).verdict, TokenVerdict::kOk);  // within the leeway
}

TEST(ConnectToken, RefusesATokenWithoutExp) {
    KeyDir dir;
    EXPECT_EQ(
        hs256_verifier(dir).verify(sign(JWT_ALG_HS256, kSecret, R"({"sub":"x"})"), kNow).verdict,
        TokenVerdict::kMalformed);
}

TEST(ConnectToken, RefusesAWrongSignature) {
    KeyDir dir;
    const std::string other(40, 'k');
    EXPECT_EQ(hs256_verifier(dir).verify(sign(JWT_ALG_HS256, other, exp_in(60)), kNow).verdict,
              TokenVerdict::kBadSignature);
    const KeyPair a = make_key_pair(false), b = make_key_pair(false);
    const ConnectTokenVerifier v =
        ConnectTokenVerifier::load(dir.write("a.pub", a.public_pem)).value();
    EXPECT_EQ(v.verify(sign(JWT_ALG_ES256, b.private_pem, exp_in(60)), kNow).verdict,
              TokenVerdict::kBadSignature);
}

TEST(ConnectToken, RefusesAlgorithmsOtherThanTheKeys) {
    KeyDir dir;
    const KeyPair kp = make_key_pair(true);
    const ConnectTokenVerifier rs =
        ConnectTokenVerifier::load(dir.write("rsa.pub", kp.public_pem)).value();
    // The classic confusion: HS256 keyed with the public key's PEM text.
    EXPECT_EQ(rs.verify(sign(JWT_ALG_HS256, kp.public_pem, exp_in(60)), kNow).verdict,
              TokenVerdict::kWrongAlgorithm);
    EXPECT_EQ(hs256_verifier(dir).verify(sign(JWT_ALG_HS384, kSecret, exp_in(60)), kNow).verdict,
              TokenVerdict::kWrongAlgorithm);
}

TEST(ConnectToken, RefusesAlgNone) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    const std::string unsigned_token = sign(JWT_ALG_NONE, "", exp_in(60));
    ASSERT_FALSE(unsigned_token.empty());
    EXPECT_EQ(v.verify(unsigned_token, kNow).verdict, TokenVerdict::kWrongAlgorithm);
    // A valid HS256 token whose header was swapped for {"alg":"none"}.
    const std::string good = sign(JWT_ALG_HS256, kSecret, exp_in(60));
    const std::string forged = "eyJhbGciOiJub25lIn0" + good.substr(good.find('.'));
    EXPECT_EQ(v.verify(forged, kNow).verdict, TokenVerdict::kWrongAlgorithm);
}

TEST(ConnectToken, ChecksTheAudienceWhenConfigured) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir, "herald");
    const auto with_aud = [](const std::string& aud) {
        return R"({"exp":)" + std::to_string(kNow + 60) + R"(,"aud":)" + aud + "}";
    };
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, kSecret, with_aud(R"("herald")")), kNow).verdict,
              TokenVerdict::kOk);
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, kSecret, with_aud(R"(["x","herald"])")), kNow).verdict,
              TokenVerdict::kOk);
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, kSecret, with_aud(R"("other")")), kNow).verdict,
              TokenVerdict::kWrongAudience);
    EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, kSecret, exp_in(60)), kNow).verdict,
              TokenVerdict::kWrongAudience);
}

TEST(ConnectToken, EnforcesGroupsAndPublishClaims) {
    KeyDir dir;
    const std::string claims = R"({"exp":)" + std::to_string(kNow + 60) +
                               R"(,"groups":["lobby","chat.*"],"publish":["chat.room1"]})";
    const TokenCheck c = hs256_verifier(dir).verify(sign(JWT_ALG_HS256, kSecret, claims), kNow);
    ASSERT_EQ(c.verdict, TokenVerdict::kOk);
    EXPECT_TRUE(c.permissions.may_join("lobby"));
    EXPECT_FALSE(c.permissions.may_join("lobby2"));
    EXPECT_TRUE(c.permissions.may_join("chat."));
    EXPECT_TRUE(c.permissions.may_join("chat.room9"));
    EXPECT_FALSE(c.permissions.may_join("chat"));
    EXPECT_TRUE(c.permissions.may_publish("chat.room1"));
    EXPECT_FALSE(c.permissions.may_publish("chat.room2"));
    EXPECT_FALSE(c.permissions.may_publish("lobby"));
}

TEST(ConnectToken, TreatsAnEmptyClaimAsNothingAndStarAsEverything) {
    KeyDir dir;
    const std::string claims =
        R"({"exp":)" + std::to_string(kNow + 60) + R"(,"groups":["*"],"publish":[]})";
    const TokenCheck c = hs256_verifier(dir).verify(sign(JWT_ALG_HS256, kSecret, claims), kNow);
    ASSERT_EQ(c.verdict, TokenVerdict::kOk);
    EXPECT_TRUE(c.permissions.may_join("anything"));
    EXPECT_FALSE(c.permissions.may_publish("anything"));
}

TEST(ConnectToken, RefusesClaimsOfTheWrongShape) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    for (const char* groups : {R"("lobby")", R"([1,2])", R"([""])", R"({"a":1})"}) {
        const std::string claims =
            R"({"exp":)" + std::to_string(kNow + 60) + R"(,"groups":)" + groups + "}";
        EXPECT_EQ(v.verify(sign(JWT_ALG_HS256, kSecret, claims), kNow).verdict,
                  TokenVerdict::kMalformed)
            << groups;
    }
}

TEST(ConnectToken, FindsTheTokenInTheQueryOrTheBearerHeader) {
    EXPECT_EQ(token_from_target("/?token=abc.def.ghi"), "abc.def.ghi");
    EXPECT_EQ(token_from_target("/ws?x=1&token=t&y=2"), "t");
    EXPECT_EQ(token_from_target("/ws?mytoken=t"), "");
    EXPECT_EQ(token_from_target("/ws"), "");
    EXPECT_EQ(token_from_authorization("Bearer abc.def"), "abc.def");
    EXPECT_EQ(token_from_authorization("bearer  abc.def "), "abc.def");
    EXPECT_EQ(token_from_authorization("Basic dXNlcjpwdw=="), "");
    EXPECT_EQ(token_from_authorization("Bearer"), "");
}

TEST(ConnectToken, RefusesAMissingToken) {
    KeyDir dir;
    EXPECT_EQ(hs256_verifier(dir).verify("", kNow).verdict, TokenVerdict::kMissing);
}

TEST(ConnectToken, LoadNamesTheFileAndTheProblem) {
    KeyDir dir;
    EXPECT_EQ(ConnectTokenVerifier::load("/nonexistent.key").error(),
              "--jwt-key /nonexistent.key: no such file");
    const std::string shorty = dir.write("short", "tooshort\n");
    EXPECT_EQ(ConnectTokenVerifier::load(shorty).error(),
              "--jwt-key " + shorty + ": HS256 secret shorter than 32 bytes");
    const std::string priv = dir.write("priv", make_key_pair(false).private_pem);
    EXPECT_EQ(ConnectTokenVerifier::load(priv).error(),
              "--jwt-key " + priv + ": is a private key; give the public key");
}

TEST(ConnectToken, SurvivesThousandsOfMutatedTokens) {
    KeyDir dir;
    const ConnectTokenVerifier v = hs256_verifier(dir);
    const std::string good = sign(
        JWT_ALG_HS256, kSecret, R"({"exp":)" + std::to_string(kNow + 60) + R"(,"groups":["a*"]})");
    std::mt19937 rng(15);
    const std::string alphabet = "AZaz09-_.=+/%{}\"\\ \x01\xff";
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string t = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !t.empty(); ++e) {
            const std::size_t at = rng() % t.size();
            switch (rng() % 4) {
                case 0:
                    t[at] = alphabet[rng() % alphabet.size()];
                    break;
                case 1:
                    t.erase(at, 1 + rng() % 8);
                    break;
                case 2:
                    t.insert(at, 1, alphabet[rng() % alphabet.size()]);
                    break;
                default:
                    t.resize(at);
                    break;
            }
        }
        const TokenCheck c = v.verify(t, kNow);
        if (c.verdict == TokenVerdict::kOk) ++accepted;
    }
    // A change confined to the signature's unused trailing bits can still verify; nothing else.
    EXPECT_LT(accepted, 15);
}

}  // namespace
}  // namespace herald::net
