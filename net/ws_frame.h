// WebSocket frame layout (RFC 6455 §5.2): header decoding, header encoding, close codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/block.h"

namespace herald::net {

//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//  |     Extended payload length continued, if payload len == 127  |
//  + - - - - - - - - - - - - - - - +-------------------------------+
//  |                               | Masking-key, if MASK set to 1 |
//  +-------------------------------+-------------------------------+
//  | Masking-key (continued)       |          Payload Data         |
//  +-------------------------------- - - - - - - - - - - - - - - - +

enum class Opcode : std::uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

constexpr std::size_t kMaxServerHeader = 10;  // 2 + 8-byte length, no mask
constexpr std::size_t kMaxClientHeader = 14;  // 2 + 8-byte length + 4-byte mask
constexpr std::size_t kMaxControlPayload = 125;

// Close status codes (RFC 6455 §7.4.1) herald sends or checks.
namespace close_code {
constexpr std::uint16_t kNormal = 1000;
constexpr std::uint16_t kGoingAway = 1001;
constexpr std::uint16_t kProtocolError = 1002;
constexpr std::uint16_t kUnsupportedData = 1003;
constexpr std::uint16_t kNoStatus = 1005;  // never on the wire: "the close frame had no code"
constexpr std::uint16_t kAbnormal = 1006;  // never on the wire: "no close frame at all"
constexpr std::uint16_t kInvalidPayload = 1007;
constexpr std::uint16_t kPolicyViolation = 1008;
constexpr std::uint16_t kMessageTooBig = 1009;
constexpr std::uint16_t kInternalError = 1011;
constexpr std::uint16_t kTryAgainLater = 1013;
}  // namespace close_code

// True for codes a peer may put in a close frame: 1000-1003, 1007-1014, 3000-4999.
bool is_valid_close_code(std::uint16_t code) noexcept;

struct FrameHeader {
    bool fin = false;
    std::uint8_t rsv = 0;     // the three RSV bits, as bits 2..0
    std::uint8_t opcode = 0;  // raw 4-bit opcode (may be an unknown value)
    bool masked = false;
    std::uint8_t header_size = 0;  // bytes before the payload: 2..14
    std::uint64_t payload_size = 0;
    std::uint8_t mask[4] = {0, 0, 0, 0};
};

enum class HeaderStatus : std::uint8_t {
    kOk,         // `out` is filled in
    kNeedMore,   // fewer than out.header_size bytes are available yet
    kBadLength,  // 64-bit length with the most significant bit set
};

// Decodes the frame header at data[0..n). Checks only what the header's own layout requires
// (the length encoding); the protocol rules are the reader's.
HeaderStatus parse_header(const std::uint8_t* data, std::size_t n, FrameHeader& out) noexcept;

// Writes an unmasked (server-to-client) header for a payload of `size` bytes into `out`
// (kMaxServerHeader bytes of room); returns its length, 2..10. Uses the shortest length form.
std::size_t encode_header(std::uint8_t* out, Opcode op, std::uint64_t size,
                          bool fin = true) noexcept;

// Writes a masked (client-to-server) header into `out` (kMaxClientHeader bytes of room);
// returns its length, 6..14. The caller masks the payload (core::unmask).
std::size_t encode_client_header(std::uint8_t* out, Opcode op, std::uint64_t size,
                                 const std::uint8_t mask[4], bool fin = true,
                                 std::uint8_t rsv = 0) noexcept;

// A whole server frame in one pool block: header then payload, encoded once and shared by every
// recipient. The block's [begin, begin + size) is exactly the frame's bytes; the payload always
// starts at data() + kMaxServerHeader, so callers may write it there before encoding the header
// with finish_frame().
core::Block* make_frame(core::BlockPool& pool, Opcode op, std::span<const std::uint8_t> payload);

// A block with room for a payload of `size` bytes at data() + kMaxServerHeader; write the
// payload, then call finish_frame().
core::Block* reserve_frame(core::BlockPool& pool, std::size_t size);
void finish_frame(core::Block* block, Opcode op, std::size_t size) noexcept;

// The payload of a frame made by make_frame() or finish_frame().
inline std::span<const std::uint8_t> frame_payload(const core::Block* block) noexcept {
    const std::uint8_t* payload = block->data() + kMaxServerHeader;
    return {payload, static_cast<std::size_t>(block->bytes() + block->size - payload)};
}

// A close frame with `code` and `reason` (truncated to fit 125 bytes on a UTF-8 boundary).
// code == close_code::kNoStatus makes an empty close frame.
core::Block* make_close_frame(core::BlockPool& pool, std::uint16_t code, std::string_view reason);

}  // namespace herald::net
