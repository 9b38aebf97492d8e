// The cluster's membership proof: the secret every hub of a cluster shares (--cluster-secret
// FILE) and the challenge-response HELLO built on it (protocol 3, channel/cluster_frame.h).
//
//   dialer                                   acceptor
//     HELLO(node_d, inc_d, nonce_d) ───────▶
//                                   ◀─────── HELLO(node_a, inc_a, nonce_a), AUTH(mac_a)
//     AUTH(mac_d)                   ───────▶
//
// mac_a = HMAC-SHA256(secret, "herald-cluster-auth-v3" | 'A' | transcript)
// mac_d = HMAC-SHA256(secret, "herald-cluster-auth-v3" | 'D' | transcript)
// transcript = node_d u32 | node_a u32 | inc_d u64 | inc_a u64 | flags_d u16 | flags_a u16 |
//              nonce_d | nonce_a | name_len u16 | cluster name        (little-endian)
//
// Each side's fresh nonce makes every MAC new (no replay); the role byte keeps one side's MAC
// from being reflected as the other's. Without a secret the same exchange runs with an empty key
// (it proves nothing: for loopback clusters and --cluster-insecure). Crypto is OpenSSL's
// (RAND_bytes, HMAC, CRYPTO_memcmp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "channel/cluster_frame.h"
#include "core/result.h"

namespace herald::channel {

constexpr std::size_t kMinClusterSecret = 16;    // bytes, after a trailing newline is trimmed
constexpr std::size_t kMaxClusterSecret = 4096;  // bytes of the file

// Which side of the exchange a MAC proves.
enum class AuthRole : std::uint8_t { kDialer = 'D', kAcceptor = 'A' };

// What one HELLO said that the MAC covers.
struct HelloFacts {
    std::uint32_t node = 0;
    std::uint64_t incarnation = 0;
    std::uint16_t flags = 0;
    HelloNonce nonce{};
};

// 32 bytes from OpenSSL's RAND_bytes(3); aborts the process if the generator fails (it cannot
// be seeded: nothing safe to do).
HelloNonce make_nonce();

// The MAC `role` sends, over both HELLOs of one link and `cluster`, keyed with `secret`
// (empty: no secret).
AuthMac hello_mac(std::string_view secret, AuthRole role, const HelloFacts& dialer,
                  const HelloFacts& acceptor, std::string_view cluster);

// Whether `got` equals `want`, in constant time (CRYPTO_memcmp(3)).
bool mac_equal(const AuthMac& got, const AuthMac& want) noexcept;

// Reads the secret file at `path` once: its bytes, one trailing "\n" or "\r\n" trimmed. An
// error (one line naming the file) when it cannot be read, is over kMaxClusterSecret bytes or
// holds fewer than kMinClusterSecret.
core::Result<std::string> read_cluster_secret(const std::string& path);

}  // namespace herald::channel
