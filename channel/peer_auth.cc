#include "channel/peer_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace herald::channel {
namespace {

constexpr std::string_view kLabel = "herald-cluster-auth-v3";

template <typename T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

}  // namespace

HelloNonce make_nonce() {
    HelloNonce n;
    if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
        std::fputs("herald: hub: RAND_bytes failed: no random nonce for HELLO\n", stderr);
        std::abort();
    }
    return n;
}

AuthMac hello_mac(std::string_view secret, AuthRole role, const HelloFacts& dialer,
                  const HelloFacts& acceptor, std::string_view cluster) {
    std::string data(kLabel);
    data.push_back(static_cast<char>(role));
    put<std::uint32_t>(data, dialer.node);
    put<std::uint32_t>(data, acceptor.node);
    put<std::uint64_t>(data, dialer.incarnation);
    put<std::uint64_t>(data, acceptor.incarnation);
    put<std::uint16_t>(data, dialer.flags);
    put<std::uint16_t>(data, acceptor.flags);
    data.append(reinterpret_cast<const char*>(dialer.nonce.data()), dialer.nonce.size());
    data.append(reinterpret_cast<const char*>(acceptor.nonce.data()), acceptor.nonce.size());
    put<std::uint16_t>(data, static_cast<std::uint16_t>(cluster.size()));
    data.append(cluster);
    AuthMac mac{};
    unsigned int len = 0;
    static const char kNoKey = 0;
    const char* key = secret.empty() ? &kNoKey : secret.data();
    if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(),
             &len) == nullptr ||
        len != mac.size()) {
        std::fputs("herald: hub: HMAC-SHA256 failed\n", stderr);
        std::abort();
    }
    return mac;
}

bool mac_equal(const AuthMac& got, const AuthMac& want) noexcept {
    return CRYPTO_memcmp(got.data(), want.data(), got.size()) == 0;
}

core::Result<std::string> read_cluster_secret(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::Error{"--cluster-secret: cannot read " + path + ": " + std::strerror(errno)};
    }
    std::string secret;
    char buf[1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        secret.append(buf, static_cast<std::size_t>(in.gcount()));
        if (secret.size() > kMaxClusterSecret) {
            return core::Error{"--cluster-secret: " + path + " is over " +
                               std::to_string(kMaxClusterSecret) + " bytes"};
        }
    }
    if (in.bad()) return core::Error{"--cluster-secret: cannot read " + path};
    if (secret.ends_with('\n')) secret.pop_back();
    if (secret.ends_with('\r')) secret.pop_back();
    if (secret.size() < kMinClusterSecret) {
        return core::Error{"--cluster-secret: " + path + " holds " + std::to_string(secret.size()) +
                           " bytes; at least " + std::to_string(kMinClusterSecret) +
                           " are needed (e.g. `openssl rand -hex 32 > FILE`)"};
    }
    return secret;
}

}  // namespace herald::channel
