// The frames hubs on different hosts exchange over TCP: encoding, and a parser that treats
// every byte from a peer as hostile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace herald::channel {

// ---------------------------------------------------------------------------------------------
// A frame, all integers little-endian:
// (HELLO uses flags: kHelloFresh below; every other type sends 0.)
//
//  0               4       5         6               8
//  +---------------+-------+---------+---------------+-----------------------+
//  | length (u32)  | type  | version | flags (u16)   | body (length bytes)   |
//  +---------------+-------+---------+---------------+-----------------------+
//
// `length` counts body bytes only. Bodies by type:
//
//  HELLO        0          4          6           8
//               +----------+----------+-----------+------------------+
//               | node u32 | proto u16| name_len  | cluster name     |
//               +----------+----------+-----------+------------------+
//  SUBSCRIBE,   0          2
//  UNSUBSCRIBE  +----------+------------------+
//               | glen u16 | group id         |
//               +----------+------------------+
//  PUBLISH      0          4          8                  16         18         20
//               +----------+----------+------------------+----------+----------+-------+-----+
//               | origin   | reserved | origin seq u64   | glen u16 | reserved | group | msg |
//               +----------+----------+------------------+----------+----------+-------+-----+
//               (the message takes the rest of the body)
//  PING, PONG   0
//               +------------------+
//               | nonce u64        |
//               +------------------+
// ---------------------------------------------------------------------------------------------

enum class FrameType : std::uint8_t {
    kHello = 1,
    kSubscribe = 2,
    kUnsubscribe = 3,
    kPublish = 4,
    kPing = 5,
    kPong = 6,
};

constexpr std::uint8_t kClusterProtocolVersion = 1;
constexpr std::size_t kFrameHeaderSize = 8;
constexpr std::size_t kHelloFixed = 8;
constexpr std::size_t kGroupFixed = 2;
constexpr std::size_t kPublishFixed = 20;
constexpr std::size_t kPingBody = 8;
constexpr std::size_t kMaxClusterName = 255;

struct HelloBody {
    std::uint32_t node = 0;
    std::uint16_t protocol = 0;
    std::string_view cluster;
    std::uint16_t flags = 0;  // the frame's flags (kHelloFresh)
};

struct PublishBody {
    std::uint32_t origin = 0;
    std::uint64_t seq = 0;
    std::string_view group;
    std::span<const std::uint8_t> message;
};

// HELLO flags: kHelloFresh says "this hub has not been linked with you since it started", so
// the receiver numbers its PUBLISH frames to it from 1 again and expects ours from 1.
constexpr std::uint16_t kHelloFresh = 1;

// Appends one frame to `out`.
void append_hello(std::string& out, std::uint32_t node, std::string_view cluster,
                  std::uint16_t flags = 0);
// Rewrites the seq of every PUBLISH frame in `frames` (whole frames back to back) to
// first, first + 1, ...; returns the next seq.
std::uint64_t renumber_publishes(std::string& frames, std::uint64_t first);
void append_group_frame(std::string& out, FrameType type, std::string_view group);
void append_publish(std::string& out, std::uint32_t origin, std::uint64_t seq,
                    std::string_view group, std::span<const std::uint8_t> message);
void append_ping(std::string& out, FrameType type, std::uint64_t nonce);

// Bytes append_publish() appends.
constexpr std::size_t publish_frame_size(std::size_t group, std::size_t message) noexcept {
    return kFrameHeaderSize + kPublishFixed + group + message;
}

// One frame cut out of a peer's byte stream.
struct Frame {
    FrameType type{};
    std::uint16_t flags = 0;
    std::span<const std::uint8_t> body;
};

enum class FrameStatus : std::uint8_t {
    kFrame,       // *frame holds one frame; `consumed` bytes are used
    kNeedMore,    // not a whole frame yet
    kOversize,    // length over the limit
    kBadVersion,  // a version this hub does not speak
    kBadType,     // an unknown frame type
    kMalformed,   // a body that does not match its type
};

const char* frame_status_name(FrameStatus status) noexcept;

// Cuts the first frame out of `in` (it is checked against `max_body` before it is complete, so
// a huge length is refused at once) and validates its body's shape.
FrameStatus parse_frame(std::span<const std::uint8_t> in, std::size_t max_body, Frame& frame,
                        std::size_t& consumed) noexcept;

// Bodies of frames parse_frame() accepted (their sizes are already checked).
HelloBody read_hello(const Frame& frame) noexcept;
std::string_view read_group(const Frame& frame) noexcept;
PublishBody read_publish(const Frame& frame) noexcept;
std::uint64_t read_ping(const Frame& frame) noexcept;

}  // namespace herald::channel
