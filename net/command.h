// The JSON command protocol of herald (the Workerman Channel example's, plus additive commands):
// parsing client commands and the error frames sent back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace herald::net {

enum class CommandKind : std::uint8_t {
    kAddGroup,     // {"cmd":"add_group","group_id":G}
    kSendToGroup,  // {"cmd":"send_to_group","group_id":G,"message":M}
    kLeaveGroup,   // {"cmd":"leave_group","group_id":G}   (herald's addition)
};

// Every error a client can receive as {"error":"<code>","detail":"..."}; docs/PROTOCOL.md
// lists them. The parser produces the first group; the server the rest.
enum class ErrorCode : std::uint8_t {
    kNone = 0,
    kInvalidJson,        // "invalid_json": the text is not JSON
    kNotAnObject,        // "not_an_object": JSON, but not an object
    kUnknownCmd,         // "unknown_cmd": cmd is not a known command
    kMissingField,       // "missing_field": cmd, group_id or message is absent
    kBadField,           // "bad_field": a field has the wrong type
    kGroupIdTooLong,     // "group_id_too_long": over --max-group-id bytes
    kTooManyGroups,      // "too_many_groups": the connection is in --max-groups-per-conn groups
    kBinaryUnsupported,  // "binary_unsupported": commands are text frames
    kForbidden,          // "forbidden": the connect token's groups/publish claims exclude it
};
constexpr std::size_t kErrorCodeCount = 10;

// "invalid_json", ... ("" for kNone).
std::string_view error_code_name(ErrorCode code) noexcept;

// The whole JSON text of the error frame for `code`, e.g.
// {"error":"unknown_cmd","detail":"cmd must be add_group, send_to_group or leave_group"}.
// Static storage: the server encodes each once and shares it. "" for kNone.
std::string_view error_json(ErrorCode code) noexcept;

struct Command {
    CommandKind kind = CommandKind::kAddGroup;
    // The group id as text: a JSON string's decoded value, or a JSON integer's decimal form
    // (123 and "123" are the same group).
    std::string_view group_id;
    // send_to_group only: the message, JSON-decoded (escapes, \u sequences, surrogate pairs);
    // an integer message is its decimal text.
    std::string_view message;
};

struct ParseResult {
    ErrorCode error = ErrorCode::kNone;  // kNone: `command` is valid
    Command command;
};

// Parses command texts with simdjson. Reuses its buffers: no allocation per command once it
// has seen its largest input. Views in the result stay valid until the next parse().
class CommandParser {
  public:
    explicit CommandParser(std::size_t max_group_id = 128);
    ~CommandParser();
    CommandParser(const CommandParser&) = delete;
    CommandParser& operator=(const CommandParser&) = delete;

    // `text` must be followed by at least 64 readable bytes (core::Block::kPadding).
    // Unknown extra fields are ignored; when a field repeats, the last occurrence counts (as
    // in PHP's json_decode, which the original protocol used). Fields are judged in the order
    // cmd, group_id, message; the first fault is reported. Text that is not entirely valid
    // UTF-8 JSON is kInvalidJson, including lone surrogate escapes and integers outside
    // int64/uint64 (PHP would read those as floats: bad_field).
    ParseResult parse(std::span<const std::uint8_t> text) noexcept;
    // The backend publish API's body {"group_id":G,"message":M}: a send_to_group without
    // "cmd" (one that is present is ignored), judged by the same rules.
    ParseResult parse_publish(std::span<const std::uint8_t> text) noexcept;

  private:
    ParseResult parse_object(std::span<const std::uint8_t> text, bool publish) noexcept;

    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::size_t max_group_id_;
};

}  // namespace herald::net
