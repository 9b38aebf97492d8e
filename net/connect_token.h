// Connect tokens: a JWT (RFC 7519, signed as a JWS, RFC 7515) presented on the WebSocket upgrade
// and verified with Debian's libjwt (1.10) before the 101. Its optional claims narrow what the
// connection may do afterwards.
//
// Keys (--jwt-key FILE), by the file's content:
//   "-----BEGIN PUBLIC KEY-----" RSA  -> RS256 only   (RFC 7518 §3.3)
//   "-----BEGIN PUBLIC KEY-----" EC P-256 -> ES256 only (RFC 7518 §3.4)
//   anything else: an HS256 secret (RFC 7518 §3.2): the file's bytes with trailing CR/LF
//   removed, at least 32 bytes (a 256-bit key, as §3.2 requires).
// The token's "alg" header must be the key's algorithm: "none" and every other algorithm are
// refused before the signature is looked at (no HS256-with-the-public-key confusion).
//
// Claims (RFC 7519 §4.1):
//   exp  required, NumericDate; refused when now >= exp + kLeewaySeconds.
//   nbf  optional; refused when now + kLeewaySeconds < nbf.
//   aud  checked only when an audience is configured: a string equal to it, or an array holding it.
//   groups, publish  optional arrays of patterns (below): which groups the connection may join
//        (add_group) and publish to (send_to_group). Absent: no restriction; [] : nothing.
// Pattern syntax: a string ending in '*' is a prefix ("chat.*" matches "chat.", "chat.room1";
// "*" matches every group); any other string matches exactly that group ('*' elsewhere is an
// ordinary character). At most kMaxPatterns patterns per claim, each at most kMaxPatternBytes.
// An open connection's token is not re-checked: it may outlive its exp (docs/PROTOCOL.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace herald::net {

// The groups one claim grants, as one compact string: per pattern a 2-byte header (length, and
// bit 15 set for a prefix) and the bytes. Default: every group.
class GroupGrant {
  public:
    static constexpr std::size_t kMaxPatterns = 64;
    static constexpr std::size_t kMaxPatternBytes = 256;

    GroupGrant() = default;                                 // every group
    static GroupGrant none() { return GroupGrant(false); }  // no group at all

    // Adds one pattern (syntax above); false when it is empty, too long, or one too many.
    bool add(std::string_view pattern);

    // Whether `group` is granted; allocates nothing.
    bool allows(std::string_view group) const noexcept;
    bool allows_all() const noexcept { return all_; }

  private:
    explicit GroupGrant(bool all) : all_(all) {}
    bool all_ = true;
    std::uint16_t count_ = 0;
    std::string packed_;  // [u16 header][bytes] per pattern
};

// What a verified connection may do (or everything, for a server without --jwt-key).
struct ConnectPermissions {
    GroupGrant join;     // "groups"
    GroupGrant publish;  // "publish"

    bool may_join(std::string_view group) const noexcept { return join.allows(group); }
    bool may_publish(std::string_view group) const noexcept { return publish.allows(group); }
};

enum class TokenVerdict : std::uint8_t {
    kOk,
    kMissing,         // no ?token= and no Authorization: Bearer
    kMalformed,       // not three base64url parts, bad JSON, no exp, bad claim types, too long
    kWrongAlgorithm,  // alg is not the key's (including "none")
    kBadSignature,    // the signature does not verify with the key
    kExpired,         // exp passed
    kNotYetValid,     // nbf in the future
    kWrongAudience,   // aud lacks the configured audience
};

// One line for the 401 body and the log, e.g. "token expired"; never empty.
std::string_view verdict_reason(TokenVerdict v) noexcept;

struct TokenCheck {
    TokenVerdict verdict = TokenVerdict::kMissing;
    // What the token grants when verdict == kOk; nothing otherwise.
    ConnectPermissions permissions{GroupGrant::none(), GroupGrant::none()};
};

// The token in a request target's query: the value of the first "token=" parameter of
// "/path?a=b&token=XYZ" ("" when absent). JWTs are base64url and '.', so no percent-decoding:
// an encoded token simply fails verification as malformed.
std::string_view token_from_target(std::string_view target) noexcept;

// The token of an Authorization header value "Bearer XYZ" (scheme case-insensitive, RFC 6750
// §2.1); "" for another scheme.
std::string_view token_from_authorization(std::string_view value) noexcept;

class ConnectTokenVerifier {
  public:
    static constexpr std::int64_t kLeewaySeconds = 10;  // clock skew allowed on exp and nbf
    static constexpr std::size_t kMaxTokenBytes = 8192;

    enum class KeyKind : std::uint8_t { kHs256, kRs256, kEs256 };

    // Reads the key file (see the top of this file). Errors name the file and the problem:
    // "--jwt-key /k: no such file", "... is a private key; give the public key",
    // "... HS256 secret shorter than 32 bytes", "... EC key is not P-256".
    static core::Result<ConnectTokenVerifier> load(const std::string& key_path,
                                                   std::string audience = {});

    // Verifies `token` at `now_unix_s` (seconds since the epoch). Allocates (libjwt, the claim
    // copies): call once per upgrade, not per message.
    TokenCheck verify(std::string_view token, std::int64_t now_unix_s) const;

    KeyKind kind() const noexcept { return kind_; }

  private:
    ConnectTokenVerifier(KeyKind kind, std::string key, std::string audience)
        : kind_(kind), key_(std::move(key)), audience_(std::move(audience)) {}

    KeyKind kind_;
    std::string key_;       // the HS256 secret, or the public key's PEM text
    std::string audience_;  // "" = aud not checked
};

}  // namespace herald::net
