// WebSocket frame headers: decoding, encoding, and whole server frames in pool blocks.
#include "net/ws_frame.h"

#include <cstring>

#include "core/utf8.h"

namespace herald::net {

bool is_valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

HeaderStatus parse_header(const std::uint8_t* data, std::size_t n, FrameHeader& out) noexcept {
    if (n < 2) {
        out.header_size = 2;  // at least; the second byte tells the rest
        return HeaderStatus::kNeedMore;
    }
    out.fin = (data[0] & 0x80) != 0;
    out.rsv = static_cast<std::uint8_t>((data[0] >> 4) & 0x7);
    out.opcode = static_cast<std::uint8_t>(data[0] & 0x0F);
    out.masked = (data[1] & 0x80) != 0;
    const std::uint8_t len7 = data[1] & 0x7F;
    std::size_t size = 2;
    if (len7 == 126) {
        size += 2;
    } else if (len7 == 127) {
        size += 8;
    }
    if (out.masked) size += 4;
    out.header_size = static_cast<std::uint8_t>(size);
    if (n < size) return HeaderStatus::kNeedMore;
    std::size_t at = 2;
    if (len7 < 126) {
        out.payload_size = len7;
    } else if (len7 == 126) {
        out.payload_size = (std::uint64_t{data[2]} << 8) | data[3];
        at = 4;
    } else {
        std::uint64_t len = 0;
        for (std::size_t i = 0; i < 8; ++i) len = (len << 8) | data[2 + i];
        if ((len >> 63) != 0) return HeaderStatus::kBadLength;
        out.payload_size = len;
        at = 10;
    }
    if (out.masked) {
        std::memcpy(out.mask, data + at, 4);
    } else {
        std::memset(out.mask, 0, 4);
    }
    return HeaderStatus::kOk;
}

namespace {

// Writes the first two bytes and the extended length; returns the length so far (2, 4 or 10).
std::size_t encode_base(std::uint8_t* out, std::uint8_t first, std::uint8_t mask_bit,
                        std::uint64_t size) noexcept {
    out[0] = first;
    if (size < 126) {
        out[1] = static_cast<std::uint8_t>(mask_bit | size);
        return 2;
    }
    if (size <= 0xFFFF) {
        out[1] = static_cast<std::uint8_t>(mask_bit | 126);
        out[2] = static_cast<std::uint8_t>(size >> 8);
        out[3] = static_cast<std::uint8_t>(size);
        return 4;
    }
    out[1] = static_cast<std::uint8_t>(mask_bit | 127);
    for (std::size_t i = 0; i < 8; ++i)
        out[2 + i] = static_cast<std::uint8_t>(size >> (56 - 8 * i));
    return 10;
}

std::uint8_t first_byte(Opcode op, bool fin, std::uint8_t rsv = 0) noexcept {
    return static_cast<std::uint8_t>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) |
                                     static_cast<std::uint8_t>(op));
}

}  // namespace

std::size_t encode_header(std::uint8_t* out, Opcode op, std::uint64_t size, bool fin) noexcept {
    return encode_base(out, first_byte(op, fin), 0, size);
}

std::size_t encode_client_header(std::uint8_t* out, Opcode op, std::uint64_t size,
                                 const std::uint8_t mask[4], bool fin, std::uint8_t rsv) noexcept {
    const std::size_t n = encode_base(out, first_byte(op, fin, rsv), 0x80, size);
    std::memcpy(out + n, mask, 4);
    return n + 4;
}

core::Block* reserve_frame(core::BlockPool& pool, std::size_t size) {
    return pool.acquire(kMaxServerHeader + size);
}

void finish_frame(core::Block* block, Opcode op, std::size_t size) noexcept {
    std::uint8_t header[kMaxServerHeader];
    const std::size_t h = encode_header(header, op, size);
    std::memcpy(block->data() + kMaxServerHeader - h, header, h);
    block->begin = static_cast<std::uint32_t>(kMaxServerHeader - h);
    block->size = static_cast<std::uint32_t>(h + size);
}

core::Block* make_frame(core::BlockPool& pool, Opcode op, std::span<const std::uint8_t> payload) {
    core::Block* block = reserve_frame(pool, payload.size());
    if (!payload.empty()) {
        std::memcpy(block->data() + kMaxServerHeader, payload.data(), payload.size());
    }
    finish_frame(block, op, payload.size());
    return block;
}

core::Block* make_close_frame(core::BlockPool& pool, std::uint16_t code, std::string_view reason) {
    if (code == close_code::kNoStatus) return make_frame(pool, Opcode::kClose, {});
    // Keep the reason within 123 bytes without cutting a UTF-8 sequence.
    std::size_t n = std::min<std::size_t>(reason.size(), kMaxControlPayload - 2);
    while (n > 0 && n < reason.size() && (static_cast<std::uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
    std::uint8_t body[kMaxControlPayload];
    body[0] = static_cast<std::uint8_t>(code >> 8);
    body[1] = static_cast<std::uint8_t>(code);
    if (n > 0) std::memcpy(body + 2, reason.data(), n);
    return make_frame(pool, Opcode::kClose, {body, n + 2});
}

}  // namespace herald::net
