#include "channel/cluster_frame.h"

#include <bit>
#include <cstring>

namespace herald::channel {
namespace {

static_assert(std::endian::native == std::endian::little, "frames are little-endian");

template <typename T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
T get(const std::uint8_t* p) noexcept {
    T value;
    std::memcpy(&value, p, sizeof value);
    return value;
}

void put_header(std::string& out, FrameType type, std::size_t body, std::uint16_t flags = 0) {
    put<std::uint32_t>(out, static_cast<std::uint32_t>(body));
    put<std::uint8_t>(out, static_cast<std::uint8_t>(type));
    put<std::uint8_t>(out, kClusterProtocolVersion);
    put<std::uint16_t>(out, flags);
}

// Whether a body of this type has a valid shape.
bool well_formed(FrameType type, std::span<const std::uint8_t> body) noexcept {
    switch (type) {
        case FrameType::kHello:
            return body.size() >= kHelloFixed &&
                   get<std::uint16_t>(body.data() + kHelloNameLenOffset) ==
                       body.size() - kHelloFixed;
        case FrameType::kSubscribe:
        case FrameType::kUnsubscribe:
            return body.size() >= kGroupFixed &&
                   get<std::uint16_t>(body.data() + kGroupLenOffset) == body.size() - kGroupFixed;
        case FrameType::kPublish:
            return body.size() >= kPublishFixed &&
                   get<std::uint16_t>(body.data() + kPublishGroupLenOffset) <=
                       body.size() - kPublishFixed;
        case FrameType::kPing:
        case FrameType::kPong:
            return body.size() == kPingBody;
        case FrameType::kAck:
            return body.size() == kAckBody;
        case FrameType::kAuth:
            return body.size() == kAuthBody;
        case FrameType::kLost:
            return body.size() >= kLostFixed &&
                   get<std::uint16_t>(body.data() + kLostGroupLenOffset) ==
                       body.size() - kLostFixed;
    }
    return false;
}

}  // namespace

void append_hello(std::string& out, std::uint32_t node, std::string_view cluster,
                  std::uint16_t flags, std::uint64_t incarnation, const HelloNonce& nonce) {
    put_header(out, FrameType::kHello, kHelloFixed + cluster.size(), flags);
    put<std::uint32_t>(out, node);
    put<std::uint16_t>(out, kClusterProtocolVersion);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(cluster.size()));
    put<std::uint64_t>(out, incarnation);
    out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
    out.append(cluster);
}

void append_auth(std::string& out, const AuthMac& mac) {
    put_header(out, FrameType::kAuth, kAuthBody);
    out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
}

void append_ack(std::string& out, std::uint64_t seq) {
    put_header(out, FrameType::kAck, kAckBody);
    put<std::uint64_t>(out, seq);
}

void append_lost(std::string& out, std::uint64_t seq, std::uint64_t count, std::string_view group,
                 std::uint16_t flags) {
    put_header(out, FrameType::kLost, kLostFixed + group.size(), flags);
    put<std::uint64_t>(out, seq);
    put<std::uint64_t>(out, count);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(group.size()));
    put<std::uint16_t>(out, 0);
    out.append(group);
}

void append_group_frame(std::string& out, FrameType type, std::string_view group) {
    put_header(out, type, kGroupFixed + group.size());
    put<std::uint16_t>(out, static_cast<std::uint16_t>(group.size()));
    out.append(group);
}

void append_publish(std::string& out, std::uint32_t origin, std::uint64_t seq,
                    std::string_view group, std::span<const std::uint8_t> message) {
    put_header(out, FrameType::kPublish, kPublishFixed + group.size() + message.size());
    put<std::uint32_t>(out, origin);
    put<std::uint32_t>(out, 0);
    put<std::uint64_t>(out, seq);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(group.size()));
    put<std::uint16_t>(out, 0);
    out.append(group);
    out.append(reinterpret_cast<const char*>(message.data()), message.size());
}

void append_ping(std::string& out, FrameType type, std::uint64_t nonce, std::uint16_t flags) {
    put_header(out, type, kPingBody, flags);
    put<std::uint64_t>(out, nonce);
}

std::uint64_t renumber_publishes(std::string& frames, std::uint64_t first) {
    FrameWalker walker(frames);
    for (FrameCut cut = walker.next(); cut.status == FrameStatus::kFrame; cut = walker.next()) {
        if (cut.frame.type != FrameType::kPublish) continue;
        std::memcpy(frames.data() + cut.at + kFrameHeaderSize + kPublishSeqOffset, &first,
                    sizeof first);
        ++first;
    }
    return first;
}

const char* frame_status_name(FrameStatus status) noexcept {
    switch (status) {
        case FrameStatus::kFrame:
            return "frame";
        case FrameStatus::kNeedMore:
            return "need_more";
        case FrameStatus::kOversize:
            return "oversize";
        case FrameStatus::kBadVersion:
            return "bad_version";
        case FrameStatus::kBadType:
            return "bad_type";
        case FrameStatus::kMalformed:
            return "malformed";
    }
    return "?";
}

FrameCut FrameWalker::next() noexcept {
    FrameCut cut;
    cut.at = at_;
    const std::span<const std::uint8_t> in = bytes_.subspan(at_);
    if (in.size() < kFrameHeaderSize) return cut;
    const auto length = get<std::uint32_t>(in.data() + kFrameLengthOffset);
    const std::uint8_t type = in[kFrameTypeOffset];
    if (in[kFrameVersionOffset] != kClusterProtocolVersion) {
        cut.status = FrameStatus::kBadVersion;
        return cut;
    }
    if (type < static_cast<std::uint8_t>(FrameType::kHello) ||
        type > static_cast<std::uint8_t>(FrameType::kAuth)) {
        cut.status = FrameStatus::kBadType;
        return cut;
    }
    if (length > max_body_) {
        cut.status = FrameStatus::kOversize;
        return cut;
    }
    if (in.size() - kFrameHeaderSize < length) return cut;
    cut.frame.type = static_cast<FrameType>(type);
    cut.frame.flags = get<std::uint16_t>(in.data() + kFrameFlagsOffset);
    cut.frame.body = in.subspan(kFrameHeaderSize, length);
    if (!well_formed(cut.frame.type, cut.frame.body)) {
        cut.status = FrameStatus::kMalformed;
        return cut;
    }
    cut.status = FrameStatus::kFrame;
    cut.size = kFrameHeaderSize + length;
    at_ += cut.size;
    return cut;
}

HelloBody read_hello(const Frame& frame) noexcept {
    const std::uint8_t* p = frame.body.data();
    HelloBody h{get<std::uint32_t>(p + kHelloNodeOffset),
                get<std::uint16_t>(p + kHelloProtocolOffset),
                std::string_view(reinterpret_cast<const char*>(p + kHelloFixed),
                                 frame.body.size() - kHelloFixed),
                frame.flags, get<std::uint64_t>(p + kHelloIncarnationOffset)};
    std::memcpy(h.nonce.data(), p + kHelloNonceOffset, kHelloNonceSize);
    return h;
}

AuthMac read_auth(const Frame& frame) noexcept {
    AuthMac mac;
    std::memcpy(mac.data(), frame.body.data() + kAuthMacOffset, kAuthMacSize);
    return mac;
}

std::string_view read_group(const Frame& frame) noexcept {
    return std::string_view(reinterpret_cast<const char*>(frame.body.data() + kGroupFixed),
                            frame.body.size() - kGroupFixed);
}

PublishBody read_publish(const Frame& frame) noexcept {
    const std::uint8_t* p = frame.body.data();
    const std::size_t glen = get<std::uint16_t>(p + kPublishGroupLenOffset);
    return PublishBody{get<std::uint32_t>(p + kPublishOriginOffset),
                       get<std::uint64_t>(p + kPublishSeqOffset),
                       std::string_view(reinterpret_cast<const char*>(p + kPublishFixed), glen),
                       frame.body.subspan(kPublishFixed + glen)};
}

std::uint64_t read_ping(const Frame& frame) noexcept {
    return get<std::uint64_t>(frame.body.data() + kPingNonceOffset);
}

std::uint64_t read_ack(const Frame& frame) noexcept {
    return get<std::uint64_t>(frame.body.data() + kAckSeqOffset);
}

LostBody read_lost(const Frame& frame) noexcept {
    const std::uint8_t* p = frame.body.data();
    return LostBody{get<std::uint64_t>(p + kLostSeqOffset),
                    get<std::uint64_t>(p + kLostCountOffset),
                    std::string_view(reinterpret_cast<const char*>(p + kLostFixed),
                                     frame.body.size() - kLostFixed),
                    (frame.flags & kLostAll) != 0, (frame.flags & kLostCheck) != 0};
}

std::uint64_t frame_seq(const Frame& frame) noexcept {
    if (frame.type == FrameType::kPublish) {
        return get<std::uint64_t>(frame.body.data() + kPublishSeqOffset);
    }
    if (frame.type == FrameType::kLost)
        return get<std::uint64_t>(frame.body.data() + kLostSeqOffset);
    return 0;
}

}  // namespace herald::channel
