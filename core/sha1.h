// SHA-1 (RFC 3174) and base64 (RFC 4648): what the WebSocket handshake needs from a hash,
// without a crypto library (SHA-1 here authenticates nothing; it is part of the protocol).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::core {

class Sha1 {
  public:
    using Digest = std::array<std::uint8_t, 20>;

    void update(const void* data, std::size_t n) noexcept;
    void update(std::string_view s) noexcept { update(s.data(), s.size()); }
    // The digest of everything fed; the object must not be updated afterwards.
    Digest finish() noexcept;

  private:
    void block(const std::uint8_t* p) noexcept;

    std::uint32_t h_[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    std::uint64_t length_ = 0;  // bytes fed
    std::uint8_t buffer_[64] = {};
    std::size_t buffered_ = 0;
};

// Standard base64 with padding of n bytes into out (4 * ceil(n / 3) characters); returns the
// number of characters written.
std::size_t base64_encode(const std::uint8_t* data, std::size_t n, char* out) noexcept;

}  // namespace herald::core
