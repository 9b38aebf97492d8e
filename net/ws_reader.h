// Server-side RFC 6455 reader: turns the bytes of one connection into messages and control
// frames, enforcing every protocol rule, in place and without copying what arrives whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

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
// Unsolicited pongs are dropped without a call.

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
class WsReader {
  public:
    WsReader() = default;
    WsReader(const WsReader&) = delete;
    WsReader& operator=(const WsReader&) = delete;
    ~WsReader();  // asserts release() was called (blocks must go back to their pool)

    // Consumes data[0..n), unmasking in place (the caller's buffer is modified). Frames that are
    // complete in `data` are delivered straight from it; an incomplete tail is copied to a pool
    // block and completed by later calls.
    template <class Handler>
    ReadResult consume(std::uint8_t* data, std::size_t n, Handler& handler, core::BlockPool& pool,
                       const WsLimits& limits);

    // Returns held blocks to the pool; the reader is then empty and may be reused.
    void release() noexcept;

    // True when no partial frame or message is held.
    bool idle() const noexcept;

  private:
    // (implementation-defined state; keep the object small: it lives in every connection)
};

}  // namespace herald::net
