#include "net/connect_token.h"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace herald::net {
namespace {

constexpr std::uint16_t kPrefixBit = 0x8000;
constexpr std::uint16_t kLengthBits = 0x7FFF;

struct JwtFree {
    void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;
struct CharFree {
    void operator()(char* p) const noexcept { std::free(p); }
};
using CString = std::unique_ptr<char, CharFree>;

bool ascii_iequal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

core::Error key_error(const std::string& path, std::string_view problem) {
    return core::Error{"--jwt-key " + path + ": " + std::string(problem)};
}

// The key file's bytes, or why it cannot be read.
core::Result<std::string> read_key_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return key_error(path, errno == ENOENT ? "no such file" : std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return key_error(path, "not a regular file");
    std::ifstream in(path, std::ios::binary);
    if (!in) return key_error(path, "cannot be read (permission denied?)");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// RS256 for an RSA key, ES256 for a P-256 key, from a "PUBLIC KEY" PEM.
core::Result<ConnectTokenVerifier::KeyKind> public_key_kind(const std::string& path,
                                                            const std::string& pem) {
    using Kind = ConnectTokenVerifier::KeyKind;
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    ERR_clear_error();
    if (!key) return key_error(path, "unreadable PEM public key");
    if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(key.get()) < 2048) return key_error(path, "RSA key under 2048 bits");
        return Kind::kRs256;
    }
    char group[64] = {};
    std::size_t n = 0;
    if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC &&
        EVP_PKEY_get_group_name(key.get(), group, sizeof group, &n) == 1 &&
        std::string_view(group) == "prime256v1") {
        return Kind::kEs256;
    }
    return key_error(path, "public key is neither RSA nor EC P-256");
}

jwt_alg_t alg_of(ConnectTokenVerifier::KeyKind kind) noexcept {
    switch (kind) {
        case ConnectTokenVerifier::KeyKind::kHs256:
            return JWT_ALG_HS256;
        case ConnectTokenVerifier::KeyKind::kRs256:
            return JWT_ALG_RS256;
        case ConnectTokenVerifier::KeyKind::kEs256:
            return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

// The claim as JSON text, or null when absent.
CString claim_json(jwt_t* jwt, const char* name) { return CString(jwt_get_grants_json(jwt, name)); }

// Fills `grant` from an optional claim: absent keeps "every group"; otherwise an array of
// pattern strings. False when the claim has another shape or breaks the limits.
bool read_grant(jwt_t* jwt, const char* name, GroupGrant& grant) {
    const CString json = claim_json(jwt, name);
    if (!json) return true;
    simdjson::dom::parser parser;
    simdjson::dom::array array;
    if (parser.parse(simdjson::padded_string(std::string_view(json.get()))).get(array)) {
        return false;
    }
    grant = GroupGrant::none();
    for (simdjson::dom::element e : array) {
        std::string_view pattern;
        if (e.get(pattern) || !grant.add(pattern)) return false;
    }
    return true;
}

// aud (RFC 7519 §4.1.3): a string, or an array of strings, holding `audience`.
bool audience_matches(jwt_t* jwt, std::string_view audience) {
    const CString json = claim_json(jwt, "aud");
    if (!json) return false;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(simdjson::padded_string(std::string_view(json.get()))).get(root)) {
        return false;
    }
    std::string_view one;
    if (!root.get(one)) return one == audience;
    simdjson::dom::array array;
    if (root.get(array)) return false;
    for (simdjson::dom::element e : array) {
        if (!e.get(one) && one == audience) return true;
    }
    return false;
}

// exp (required), nbf (optional) against `now` with the leeway.
TokenVerdict check_times(jwt_t* jwt, std::int64_t now) {
    constexpr std::int64_t kLeeway = ConnectTokenVerifier::kLeewaySeconds;
    errno = 0;
    const long exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0) return TokenVerdict::kMalformed;
    if (now >= exp + kLeeway) return TokenVerdict::kExpired;
    errno = 0;
    const long nbf = jwt_get_grant_int(jwt, "nbf");
    if (errno == 0 && now + kLeeway < nbf) return TokenVerdict::kNotYetValid;
    if (errno != 0 && errno != ENOENT) return TokenVerdict::kMalformed;
    return TokenVerdict::kOk;
}

}  // namespace

bool GroupGrant::add(std::string_view pattern) {
    if (pattern.empty() || pattern.size() > kMaxPatternBytes || count_ >= kMaxPatterns) {
        return false;
    }
    const bool prefix = pattern.back() == '*';
    if (prefix) pattern.remove_suffix(1);
    const auto header = static_cast<std::uint16_t>(pattern.size() | (prefix ? kPrefixBit : 0));
    packed_.push_back(static_cast<char>(header & 0xFF));
    packed_.push_back(static_cast<char>(header >> 8));
    packed_.append(pattern);
    ++count_;
    all_ = false;
    return true;
}

bool GroupGrant::allows(std::string_view group) const noexcept {
    if (all_) return true;
    for (std::size_t i = 0; i + 2 <= packed_.size();) {
        const auto header = static_cast<std::uint16_t>(
            static_cast<std::uint8_t>(packed_[i]) | static_cast<std::uint8_t>(packed_[i + 1]) << 8);
        const std::size_t len = header & kLengthBits;
        const std::string_view pattern(packed_.data() + i + 2, len);
        const bool prefix = (header & kPrefixBit) != 0;
        if (prefix ? group.substr(0, len) == pattern : group == pattern) return true;
        i += 2 + len;
    }
    return false;
}

std::string_view verdict_reason(TokenVerdict v) noexcept {
    switch (v) {
        case TokenVerdict::kOk:
            return "token accepted";
        case TokenVerdict::kMissing:
            return "token required (?token= or Authorization: Bearer)";
        case TokenVerdict::kMalformed:
            return "token malformed";
        case TokenVerdict::kWrongAlgorithm:
            return "token algorithm not accepted";
        case TokenVerdict::kBadSignature:
            return "token signature invalid";
        case TokenVerdict::kExpired:
            return "token expired";
        case TokenVerdict::kNotYetValid:
            return "token not yet valid";
        case TokenVerdict::kWrongAudience:
            return "token audience mismatch";
    }
    return "token refused";
}

std::string_view token_from_target(std::string_view target) noexcept {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view query = target.substr(q + 1);
    query = query.substr(0, query.find('#'));
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        if (param.substr(0, 6) == "token=") return param.substr(6);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

std::string_view token_from_authorization(std::string_view value) noexcept {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    if (value.size() < 7 || !ascii_iequal(value.substr(0, 6), "bearer") || value[6] != ' ') {
        return {};
    }
    value.remove_prefix(7);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    return value;
}

core::Result<ConnectTokenVerifier> ConnectTokenVerifier::load(const std::string& key_path,
                                                              std::string audience) {
    core::Result<std::string> text = read_key_file(key_path);
    if (!text) return core::Error{text.error()};
    std::string key = std::move(text).value();
    if (key.find("PRIVATE KEY-----") != std::string::npos) {
        return key_error(key_path, "is a private key; give the public key");
    }
    if (key.rfind("-----BEGIN", 0) == 0) {
        if (key.rfind("-----BEGIN PUBLIC KEY-----", 0) != 0) {
            return key_error(key_path, "PEM but not a PUBLIC KEY");
        }
        core::Result<KeyKind> kind = public_key_kind(key_path, key);
        if (!kind) return core::Error{kind.error()};
        return ConnectTokenVerifier(*kind, std::move(key), std::move(audience));
    }
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (key.size() < 32) return key_error(key_path, "HS256 secret shorter than 32 bytes");
    return ConnectTokenVerifier(KeyKind::kHs256, std::move(key), std::move(audience));
}

TokenCheck ConnectTokenVerifier::verify(std::string_view token, std::int64_t now_unix_s) const {
    TokenCheck out;
    if (token.empty()) return out;
    out.verdict = TokenVerdict::kMalformed;
    if (token.size() > kMaxTokenBytes || token.find('\0') != std::string_view::npos) return out;
    const std::string text(token);
    // The header's alg first, unverified: only the key's algorithm may reach verification.
    jwt_t* raw = nullptr;
    const int parsed = jwt_decode(&raw, text.c_str(), nullptr, 0);
    JwtPtr unverified(raw);
    ERR_clear_error();
    if (parsed != 0 || !unverified) return out;
    const char* alg = jwt_get_header(unverified.get(), "alg");
    if (alg == nullptr) return out;
    if (jwt_str_alg(alg) != alg_of(kind_)) {
        out.verdict = TokenVerdict::kWrongAlgorithm;
        return out;
    }
    raw = nullptr;
    const int verified =
        jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key_.data()),
                   static_cast<int>(key_.size()));
    JwtPtr jwt(raw);
    ERR_clear_error();
    if (verified != 0 || !jwt || jwt_get_alg(jwt.get()) != alg_of(kind_)) {
        out.verdict = TokenVerdict::kBadSignature;
        return out;
    }
    out.verdict = check_times(jwt.get(), now_unix_s);
    if (out.verdict != TokenVerdict::kOk) return out;
    if (!audience_.empty() && !audience_matches(jwt.get(), audience_)) {
        out.verdict = TokenVerdict::kWrongAudience;
        return out;
    }
    ConnectPermissions granted;  // an absent claim leaves its side unrestricted
    if (!read_grant(jwt.get(), "groups", granted.join) ||
        !read_grant(jwt.get(), "publish", granted.publish)) {
        out.verdict = TokenVerdict::kMalformed;
        return out;
    }
    out.permissions = std::move(granted);
    return out;
}

}  // namespace herald::net
