// Server-side RFC 6455 reader: turns the bytes of one connection into messages and control
// frames, enforcing every protocol rule, in place and without copying what arrives whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/assert.h"
#include "core/block.h"
#include "core/utf8.h"
#include "net/ws_frame.h"

namespace herald::net {

// The handler a WsReader reports to (a template parameter, so calls inline):
//
//   struct Handler {
//       // A complete data message (opcode kText or kBinary). Text is valid UTF-8. `payload`
//       // is valid until the call returns and has core::Block::kPadding readable bytes after
//       // its end. Return false to make consume() stop (kStopped).
//       bool on_message(Opcode opcode, std::span<const std::uint8_t> payload);
//       // A ping; the handler answers with a pong carrying the same payload.
//       bool on_ping(std::span<const std::uint8_t> payload);
//       // A valid close frame. code is close_code::kNoStatus when the frame had no body.
//       // The reader is closed afterwards: consume() ignores further input.
//       void on_close(std::uint16_t code, std::string_view reason);
//   };
// Unsolicited pongs are dropped without a call. A handler must not call consume() or release()
// on the reader that is calling it.

enum class ReadStatus : std::uint8_t {
    kOk,       // all input consumed; a partial frame, if any, is held for the next call
    kStopped,  // the handler returned false; `consumed` says how far the reader got
    kClosed,   // a close frame arrived (on_close was called); the rest is ignored
    kFailed,   // protocol violation: fail the connection with close_code and reason
};

struct ReadResult {
    ReadStatus status = ReadStatus::kOk;
    std::uint16_t close_code = 0;  // kFailed: 1002, 1007 or 1009
    const char* reason = "";       // kFailed: short human text for the close frame
    std::size_t consumed = 0;      // input bytes used
};

struct WsLimits {
    std::uint64_t max_message = 1u << 20;  // bytes of one message, all fragments together
};

// Per-connection reader state. Small (it lives in every connection); holds pool blocks only
// while a frame or a fragmented message is incomplete.
//
// Rules enforced (RFC 6455 §5-7), each failing the connection with the code shown:
//   client frame not masked, RSV bit set (no extension negotiated), unknown opcode,
//   control frame over 125 bytes or fragmented, continuation without a message in progress,
//   new data frame while a fragmented message is in progress, 64-bit length with the top bit
//   set, close frame with a 1-byte body or an invalid code                             -> 1002
//   text message (or close reason) that is not valid UTF-8, detected as soon as the first bad
//   byte arrives, also across fragment and read boundaries                             -> 1007
//   message (sum of its fragments) longer than WsLimits::max_message                   -> 1009
// Header rules are judged as soon as the bytes that decide them arrive (the first two header
// bytes decide all but the last two), the size limit once the length is known, before any
// payload is held.
class WsReader {
  public:
    WsReader() = default;
    WsReader(const WsReader&) = delete;
    WsReader& operator=(const WsReader&) = delete;
    ~WsReader() { HERALD_DCHECK(idle()); }  // release() must have returned the blocks

    // Consumes data[0..n), unmasking in place (the caller's buffer is modified; it must have
    // core::Block::kPadding readable bytes after its end). Frames that are complete in `data`
    // are delivered straight from it; an incomplete tail is copied to a pool block and
    // completed by later calls. After kClosed or kFailed, further calls take the input without
    // looking at it and return the same status (and close code).
    template <class Handler>
    ReadResult consume(std::uint8_t* data, std::size_t n, Handler& handler, core::BlockPool& pool,
                       const WsLimits& limits);

    // Returns held blocks to their pool; the reader is then empty, open, and may be reused.
    void release() noexcept;

    // True when no partial frame or message is held.
    bool idle() const noexcept { return carry_ == nullptr && message_ == nullptr; }

  private:
    enum class State : std::uint8_t { kActive, kClosed, kFailed };

    // Why a connection fails; kViolations (ws_reader.cc) maps each to its code and reason.
    enum class Violation : std::uint8_t {
        kNone,
        kReservedBits,
        kUnknownOpcode,
        kFragmentedControl,
        kUnmasked,
        kControlTooLong,
        kOrphanContinuation,
        kNestedMessage,
        kBadLength,
        kShortCloseBody,
        kBadCloseCode,
        kBadUtf8,
        kTextEndsMidSequence,
        kBadCloseReason,
        kTooBig,
    };

    // Rules the first two header bytes decide; `head` holds avail >= 1 of them.
    Violation check_start(const std::uint8_t* head, std::size_t avail) const noexcept;
    // The size limit, once the whole header is known.
    Violation check_size(const FrameHeader& h, const WsLimits& limits) const noexcept;
    // Unmasks payload bytes [done, avail) and, for text, validates them. False: bad UTF-8.
    bool prepare(const FrameHeader& h, std::uint8_t* payload, std::size_t done,
                 std::size_t avail) noexcept;
    bool is_text(const FrameHeader& h) const noexcept;

    // Copies the start of an incomplete frame (`prepared` payload bytes already unmasked).
    void start_carry(const std::uint8_t* bytes, std::size_t n, core::BlockPool& pool,
                     std::uint64_t frame_size, std::size_t prepared);
    // Adds bytes from data[off, n) to the carried frame, advancing off; sets `complete` when
    // the frame is whole (its header is then in h). kFailed on a protocol violation.
    ReadResult fill_carry(const std::uint8_t* data, std::size_t n, std::size_t& off,
                          core::BlockPool& pool, const WsLimits& limits, FrameHeader& h,
                          bool& complete);
    // Appends a fragment's payload to the message being assembled.
    void append_fragment(const std::uint8_t* payload, std::size_t n, core::BlockPool& pool,
                         const WsLimits& limits);
    // Enters kFailed (dropping held blocks) and says so.
    ReadResult fail(Violation why, std::size_t consumed) noexcept;
    // The kFailed result for `why`: its close code and reason.
    static ReadResult failure(Violation why, std::size_t consumed) noexcept;
    // What consume() says once closed or failed.
    ReadResult after_end(std::size_t n) const noexcept;
    void drop_blocks() noexcept;

    template <class Handler>
    ReadResult dispatch(const FrameHeader& h, std::uint8_t* payload, Handler& handler,
                        core::BlockPool& pool, const WsLimits& limits);
    template <class Handler>
    ReadResult dispatch_close(std::span<const std::uint8_t> body, Handler& handler);

    // An incomplete frame, exactly as it arrived but with its payload unmasked (and, for text,
    // UTF-8 checked) as far as it has arrived:
    //
    //  data()
    //  0               header_size                      size                  capacity
    //  +---------------+--------------------------------+---------------------+---------+
    //  | frame header  | payload so far: unmasked, and  | room for the rest   | padding |
    //  | (2..14 bytes, | validated when the message is  | of the payload      | (64 B)  |
    //  |  key and all) | text                           | (grown on demand)   |         |
    //  +---------------+--------------------------------+---------------------+---------+
    //
    //  size  = bytes of the frame held; while the header is incomplete, size < header_size and
    //          no payload byte is held (header bytes are taken one field at a time).
    //  begin = payload bytes already unmasked and validated (size - header_size between
    //          calls); the mask phase of the next payload byte is begin % 4.
    // The header is decoded again from data() on each call (at most 14 bytes): no other copy.
    core::Block* carry_ = nullptr;
    // A fragmented message so far: its unmasked (and validated) payload in data()[0, size),
    // grown on demand up to WsLimits::max_message; begin is 0.
    core::Block* message_ = nullptr;
    core::Utf8Validator utf8_;         // the text message in progress, across frames and reads
    std::uint8_t message_opcode_ = 0;  // opcode of the fragmented message in progress (0: none)
    State state_ = State::kActive;
    Violation violation_ = Violation::kNone;  // kFailed: why
};
static_assert(sizeof(WsReader) <= 24, "a WsReader lives in every connection");

}  // namespace herald::net

#include "net/ws_reader_inl.h"  // the templates and the per-frame checks
