// The frames hubs on different hosts exchange over TCP: encoding, and a parser that treats
// every byte from a peer as hostile.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace herald::channel {

// ---------------------------------------------------------------------------------------------
// A frame, all integers little-endian:
// (HELLO uses flags: kHelloFresh below; LOST: kLostAll, kLostCheck; PING: kPingBase; every
// other type sends 0.)
//
//  0               4       5         6               8
//  +---------------+-------+---------+---------------+-----------------------+
//  | length (u32)  | type  | version | flags (u16)   | body (length bytes)   |
//  +---------------+-------+---------+---------------+-----------------------+
//
// `length` counts body bytes only. Bodies by type:
//
//  HELLO        0          4          6           8                  16            48
//               +----------+----------+-----------+------------------+-------------+--------------+
//               | node u32 | proto u16| name_len  | incarnation u64  | nonce (32)  | cluster name |
//               +----------+----------+-----------+------------------+-------------+--------------+
//               (nonce: 32 random bytes, new on every HELLO; channel/peer_auth.h)
//  AUTH         0                                  32
//               +----------------------------------+
//               | HMAC-SHA256 (32 bytes)           |   proves the cluster secret: the MAC over
//               +----------------------------------+   both HELLOs (channel/peer_auth.h)
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
//               | nonce u64        |   (PING flags kPingBase: the nonce is the sender's last
//               +------------------+   seq acknowledged by the receiver)
//  ACK          0
//               +------------------+
//               | seq u64          |   the highest contiguous seq received from the link's node
//               +------------------+
//  LOST         0                  8                  16         18         20
//               +------------------+------------------+----------+----------+-------+
//               | seq u64          | count u64        | glen u16 | reserved | group |
//               +------------------+------------------+----------+----------+-------+
//               (frames for `group` the sender dropped; flags kLostAll: every group, glen 0;
//               kLostCheck: none dropped, count 0, glen 0: a seq mark after a hub restart)
// ---------------------------------------------------------------------------------------------

enum class FrameType : std::uint8_t {
    kHello = 1,
    kSubscribe = 2,
    kUnsubscribe = 3,
    kPublish = 4,
    kPing = 5,
    kPong = 6,
    kAck = 7,
    kLost = 8,
    kAuth = 9,
};

// 2: ACK and LOST, HELLO carries the sender's incarnation. 3: HELLO carries a nonce and is
// answered by AUTH (a challenge-response over both HELLOs) before any other frame. 4: a hub
// keeps its incarnation and seqs across its own restarts (LOST kLostCheck marks where), and a
// receiver treats a seq gap as frames of every group lost.
constexpr std::uint8_t kClusterProtocolVersion = 4;
constexpr std::size_t kMaxClusterName = 255;

// Offsets in the frame header, and in each body (from the body's first byte), as drawn above.
constexpr std::size_t kFrameLengthOffset = 0;   // u32: body bytes
constexpr std::size_t kFrameTypeOffset = 4;     // u8: FrameType
constexpr std::size_t kFrameVersionOffset = 5;  // u8: kClusterProtocolVersion
constexpr std::size_t kFrameFlagsOffset = 6;    // u16
constexpr std::size_t kFrameHeaderSize = 8;
static_assert(kFrameLengthOffset + sizeof(std::uint32_t) == kFrameTypeOffset);
static_assert(kFrameTypeOffset + sizeof(std::uint8_t) == kFrameVersionOffset);
static_assert(kFrameVersionOffset + sizeof(std::uint8_t) == kFrameFlagsOffset);
static_assert(kFrameFlagsOffset + sizeof(std::uint16_t) == kFrameHeaderSize);

constexpr std::size_t kHelloNodeOffset = 0;         // u32
constexpr std::size_t kHelloProtocolOffset = 4;     // u16
constexpr std::size_t kHelloNameLenOffset = 6;      // u16: bytes of the cluster name that follows
constexpr std::size_t kHelloIncarnationOffset = 8;  // u64: differs on every start of the hub
constexpr std::size_t kHelloNonceOffset = 16;       // 32 random bytes
constexpr std::size_t kHelloNonceSize = 32;
constexpr std::size_t kHelloFixed = 48;
static_assert(kHelloNodeOffset + sizeof(std::uint32_t) == kHelloProtocolOffset);
static_assert(kHelloProtocolOffset + sizeof(std::uint16_t) == kHelloNameLenOffset);
static_assert(kHelloNameLenOffset + sizeof(std::uint16_t) == kHelloIncarnationOffset);
static_assert(kHelloIncarnationOffset + sizeof(std::uint64_t) == kHelloNonceOffset);
static_assert(kHelloNonceOffset + kHelloNonceSize == kHelloFixed);

constexpr std::size_t kAuthMacOffset = 0;  // HMAC-SHA256 output
constexpr std::size_t kAuthMacSize = 32;
constexpr std::size_t kAuthBody = 32;
static_assert(kAuthMacOffset + kAuthMacSize == kAuthBody);

constexpr std::size_t kGroupLenOffset = 0;  // u16: bytes of the group id that follows
constexpr std::size_t kGroupFixed = 2;
static_assert(kGroupLenOffset + sizeof(std::uint16_t) == kGroupFixed);

constexpr std::size_t kPublishOriginOffset = 0;      // u32: the node that published
constexpr std::size_t kPublishReserved1Offset = 4;   // u32: 0
constexpr std::size_t kPublishSeqOffset = 8;         // u64: per (sender, receiver) incarnation
constexpr std::size_t kPublishGroupLenOffset = 16;   // u16: bytes of the group id that follows
constexpr std::size_t kPublishReserved2Offset = 18;  // u16: 0
constexpr std::size_t kPublishFixed = 20;
static_assert(kPublishOriginOffset + sizeof(std::uint32_t) == kPublishReserved1Offset);
static_assert(kPublishReserved1Offset + sizeof(std::uint32_t) == kPublishSeqOffset);
static_assert(kPublishSeqOffset + sizeof(std::uint64_t) == kPublishGroupLenOffset);
static_assert(kPublishGroupLenOffset + sizeof(std::uint16_t) == kPublishReserved2Offset);
static_assert(kPublishReserved2Offset + sizeof(std::uint16_t) == kPublishFixed);

constexpr std::size_t kPingNonceOffset = 0;  // u64
constexpr std::size_t kPingBody = 8;
static_assert(kPingNonceOffset + sizeof(std::uint64_t) == kPingBody);

constexpr std::size_t kAckSeqOffset = 0;  // u64
constexpr std::size_t kAckBody = 8;
static_assert(kAckSeqOffset + sizeof(std::uint64_t) == kAckBody);

constexpr std::size_t kLostSeqOffset = 0;        // u64: in the same seq run as PUBLISH
constexpr std::size_t kLostCountOffset = 8;      // u64: frames dropped
constexpr std::size_t kLostGroupLenOffset = 16;  // u16
constexpr std::size_t kLostReservedOffset = 18;  // u16: 0
constexpr std::size_t kLostFixed = 20;
static_assert(kLostSeqOffset + sizeof(std::uint64_t) == kLostCountOffset);
static_assert(kLostCountOffset + sizeof(std::uint64_t) == kLostGroupLenOffset);
static_assert(kLostGroupLenOffset + sizeof(std::uint16_t) == kLostReservedOffset);
static_assert(kLostReservedOffset + sizeof(std::uint16_t) == kLostFixed);

// LOST flags: kLostAll says "frames of every group were dropped" (the group is empty).
// kLostCheck says "nothing was dropped here, but every seq before mine may have been lost": a
// restarted hub sends it where its previous process's unacknowledged frames ended, so that a
// receiver missing any of them sees a gap (count 0, group empty).
constexpr std::uint16_t kLostAll = 1;
constexpr std::uint16_t kLostCheck = 2;

// PING flags: kPingBase (on the PING that ends the SUBSCRIBE set of a new link) says "my seqs
// to you go on after `nonce`, the last one you acknowledged": a receiver that has delivered
// nothing from this incarnation (its own state is new) starts counting there, so that it can
// tell a gap from a sender that numbered on.
constexpr std::uint16_t kPingBase = 1;

using HelloNonce = std::array<std::uint8_t, kHelloNonceSize>;
using AuthMac = std::array<std::uint8_t, kAuthMacSize>;

struct HelloBody {
    std::uint32_t node = 0;
    std::uint16_t protocol = 0;
    std::string_view cluster;
    std::uint16_t flags = 0;  // the frame's flags (kHelloFresh)
    std::uint64_t incarnation = 0;
    HelloNonce nonce{};
};

struct LostBody {
    std::uint64_t seq = 0;
    std::uint64_t count = 0;
    std::string_view group;  // empty with `all` or `check`
    bool all = false;
    bool check = false;  // kLostCheck: a seq mark, nothing dropped
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
                  std::uint16_t flags = 0, std::uint64_t incarnation = 0,
                  const HelloNonce& nonce = {});
void append_auth(std::string& out, const AuthMac& mac);
void append_ack(std::string& out, std::uint64_t seq);
// `flags`: 0 (`group` lost `count` frames), kLostAll (every group; `group` empty) or kLostCheck
// (a seq mark; `count` 0, `group` empty).
void append_lost(std::string& out, std::uint64_t seq, std::uint64_t count, std::string_view group,
                 std::uint16_t flags);

// Rewrites the seq of every PUBLISH frame in `frames` (whole frames back to back) to
// first, first + 1, ...; returns the next seq.
std::uint64_t renumber_publishes(std::string& frames, std::uint64_t first);
void append_group_frame(std::string& out, FrameType type, std::string_view group);
void append_publish(std::string& out, std::uint32_t origin, std::uint64_t seq,
                    std::string_view group, std::span<const std::uint8_t> message);
// `flags`: kPingBase on the PING that ends a SUBSCRIBE set (then `nonce` is the base).
void append_ping(std::string& out, FrameType type, std::uint64_t nonce, std::uint16_t flags = 0);

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
    kFrame,       // a whole, well-formed frame
    kNeedMore,    // not a whole frame yet
    kOversize,    // length over the limit
    kBadVersion,  // a version this hub does not speak
    kBadType,     // an unknown frame type
    kMalformed,   // a body that does not match its type
};

const char* frame_status_name(FrameStatus status) noexcept;

// One step of a FrameWalker: a frame and where it lies in the walked bytes, or why not.
struct FrameCut {
    FrameStatus status = FrameStatus::kNeedMore;
    Frame frame;           // with status kFrame (and kMalformed: the frame refused)
    std::size_t at = 0;    // offset of the frame's first header byte in the walked bytes
    std::size_t size = 0;  // header + body bytes (with status kFrame)
};

// Walks the length-prefixed frames of a byte buffer front to back: a peer's stream (every byte
// hostile: a length over `max_body` is refused before the body arrives, then the version, the
// type and the body's shape are checked) or this hub's own queued frames (max_body SIZE_MAX). Holds
// a view: the bytes must outlive it and not move meanwhile.
class FrameWalker {
  public:
    explicit FrameWalker(std::span<const std::uint8_t> bytes,
                         std::size_t max_body = SIZE_MAX) noexcept
        : bytes_(bytes), max_body_(max_body) {}
    explicit FrameWalker(std::string_view bytes, std::size_t max_body = SIZE_MAX) noexcept
        : FrameWalker(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
                      max_body) {}

    // The next frame (kFrame); kNeedMore when what is left is not a whole frame; otherwise the
    // reason the next frame is refused (the walk does not move past it).
    FrameCut next() noexcept;
    // Bytes of the whole frames walked past.
    std::size_t consumed() const noexcept { return at_; }

  private:
    std::span<const std::uint8_t> bytes_;
    std::size_t max_body_;
    std::size_t at_ = 0;
};

// Bodies of frames a FrameWalker accepted (their sizes are already checked).
HelloBody read_hello(const Frame& frame) noexcept;
AuthMac read_auth(const Frame& frame) noexcept;
std::string_view read_group(const Frame& frame) noexcept;
PublishBody read_publish(const Frame& frame) noexcept;
std::uint64_t read_ping(const Frame& frame) noexcept;
std::uint64_t read_ack(const Frame& frame) noexcept;
LostBody read_lost(const Frame& frame) noexcept;
// The seq of a PUBLISH or LOST frame (0 for other types).
std::uint64_t frame_seq(const Frame& frame) noexcept;

}  // namespace herald::channel
