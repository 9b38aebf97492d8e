// Unit tests of the JSON command parser (PHP json_decode semantics) and the error frames.
#include "net/command.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Allocation counting for DoesNotAllocateOnceWarm: every non-aligned operator new of the
// process (simdjson's included) goes through here. malloc/free underneath keep ASan's
// allocation bookkeeping consistent. The operators are noinline so that g++ does not inline
// free() into code it sees calling operator new and warn (-Wmismatched-new-delete).
namespace {
bool g_count_allocations = false;
std::size_t g_allocations = 0;

void* counted_malloc(std::size_t n) noexcept {
    if (g_count_allocations) ++g_allocations;
    return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t n) {
    if (void* p = counted_malloc(n)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) {
    if (void* p = counted_malloc(n)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted_malloc(n);
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted_malloc(n);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace herald::net {
namespace {

constexpr std::size_t kPadding = 64;  // core::Block::kPadding

// A command text followed by kPadding readable bytes, as frame payloads are. The padding is
// JSON-looking junk so that reading it as input would show up as a wrong result.
class Padded {
  public:
    explicit Padded(std::string_view text) : size_(text.size()), bytes_(text.size() + kPadding) {
        std::memcpy(bytes_.data(), text.data(), text.size());
        for (std::size_t i = 0; i < kPadding; ++i)
            bytes_[size_ + i] = static_cast<std::uint8_t>("\"}],x"[i % 5]);
    }
    std::span<const std::uint8_t> span() const noexcept { return {bytes_.data(), size_}; }
    void scribble() noexcept { std::memset(bytes_.data(), '#', size_); }

  private:
    std::size_t size_;
    std::vector<std::uint8_t> bytes_;
};

// A parser and the input it last parsed (kept alive like a frame buffer would be).
struct Harness {
    explicit Harness(std::size_t max_group_id = 128) : parser(max_group_id) {}
    ParseResult parse(std::string_view text) {
        input = Padded(text);
        return parser.parse(input.span());
    }
    ErrorCode error_of(std::string_view text) { return parse(text).error; }

    CommandParser parser;
    Padded input{""};
};

std::string repeat(std::string_view unit, std::size_t n) {
    std::string s;
    s.reserve(unit.size() * n);
    for (std::size_t i = 0; i < n; ++i) s += unit;
    return s;
}

std::string add_group_with(std::string_view group_id_json) {
    return R"({"cmd":"add_group","group_id":)" + std::string(group_id_json) + "}";
}

std::string send_with(std::string_view message_json) {
    return R"({"cmd":"send_to_group","group_id":"g","message":)" + std::string(message_json) + "}";
}

// --- the seed's commands -------------------------------------------------------------------

TEST(CommandParser, ParsesTheSeedsAddGroupCommand) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"add_group", "group_id":"123"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.kind, CommandKind::kAddGroup);
    EXPECT_EQ(r.command.group_id, "123");
    EXPECT_EQ(r.command.message, "");
}

TEST(CommandParser, ParsesTheSeedsSendToGroupCommand) {
    Harness h;
    const ParseResult r =
        h.parse(R"({"cmd":"send_to_group", "group_id":"123", "message":"C'est le message"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.kind, CommandKind::kSendToGroup);
    EXPECT_EQ(r.command.group_id, "123");
    EXPECT_EQ(r.command.message, "C'est le message");
}

TEST(CommandParser, ParsesLeaveGroup) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"leave_group","group_id":"123"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.kind, CommandKind::kLeaveGroup);
    EXPECT_EQ(r.command.group_id, "123");
}

TEST(CommandParser, IgnoresTheMessageOfCommandsOtherThanSendToGroup) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"add_group","group_id":"1","message":[1,{}]})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, "");
    EXPECT_EQ(h.error_of(R"({"cmd":"leave_group","group_id":"1","message":null})"),
              ErrorCode::kNone);
}

TEST(CommandParser, IsNoexcept) {
    Harness h;
    static_assert(noexcept(h.parser.parse(std::span<const std::uint8_t>{})));
}

// --- cmd -----------------------------------------------------------------------------------

TEST(CommandParser, RejectsAMissingCmd) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"group_id":"1"})"), ErrorCode::kMissingField);
}

TEST(CommandParser, RejectsACmdThatIsNotAString) {
    Harness h;
    for (const char* cmd : {"1", "null", "true", R"(["add_group"])", R"({"add_group":1})"}) {
        EXPECT_EQ(h.error_of(R"({"cmd":)" + std::string(cmd) + R"(,"group_id":"1"})"),
                  ErrorCode::kBadField)
            << cmd;
    }
}

TEST(CommandParser, RejectsAnUnknownCmd) {
    Harness h;
    for (const char* cmd : {"join", "", "add_group ", "addgroup", "send_to_group\\u0000"}) {
        EXPECT_EQ(h.error_of(R"({"cmd":")" + std::string(cmd) + R"(","group_id":"1"})"),
                  ErrorCode::kUnknownCmd)
            << cmd;
    }
}

TEST(CommandParser, MatchesCmdCaseSensitively) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"cmd":"ADD_GROUP","group_id":"1"})"), ErrorCode::kUnknownCmd);
    EXPECT_EQ(h.error_of(R"({"cmd":"Add_Group","group_id":"1"})"), ErrorCode::kUnknownCmd);
}

TEST(CommandParser, DecodesEscapesInTheCmdValue) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"add\u005fgroup","group_id":"1"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.kind, CommandKind::kAddGroup);
}

// --- group_id ------------------------------------------------------------------------------

TEST(CommandParser, RejectsAMissingGroupIdForEveryCommand) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"cmd":"add_group"})"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(R"({"cmd":"leave_group"})"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(R"({"cmd":"send_to_group","message":"m"})"), ErrorCode::kMissingField);
}

TEST(CommandParser, TreatsIntegerGroupIdAsItsDecimalString) {
    Harness h;
    const std::pair<const char*, const char*> cases[] = {
        {"123", "123"},
        {"-5", "-5"},
        {"0", "0"},
        {"9223372036854775807", "9223372036854775807"},
        {"-9223372036854775808", "-9223372036854775808"},
        {"18446744073709551615", "18446744073709551615"},
    };
    for (const auto& [json, text] : cases) {
        const ParseResult r = h.parse(add_group_with(json));
        ASSERT_EQ(r.error, ErrorCode::kNone) << json;
        EXPECT_EQ(r.command.group_id, text);
    }
}

TEST(CommandParser, TreatsNegativeZeroGroupIdAsZeroLikePhp) {
    Harness h;
    const ParseResult r = h.parse(add_group_with("-0"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "0");
}

TEST(CommandParser, RejectsGroupIdsThatAreNeitherStringNorInteger) {
    Harness h;
    for (const char* json : {"1.5", "1.0", "1e2", "-0.0", "true", "false", "null", "[]", R"(["1"])",
                             "{}", R"({"id":"1"})"}) {
        EXPECT_EQ(h.error_of(add_group_with(json)), ErrorCode::kBadField) << json;
    }
}

// PHP would decode these as floats (bad_field); simdjson refuses numbers it cannot represent.
TEST(CommandParser, RejectsIntegersBeyondUint64AsInvalidJson) {
    Harness h;
    EXPECT_EQ(h.error_of(add_group_with("18446744073709551616")), ErrorCode::kInvalidJson);
    EXPECT_EQ(h.error_of(add_group_with("-9223372036854775809")), ErrorCode::kInvalidJson);
}

TEST(CommandParser, AcceptsAnEmptyGroupIdAsPhpDoes) {
    Harness h;
    const ParseResult r = h.parse(add_group_with(R"("")"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "");
}

TEST(CommandParser, AcceptsUnicodeGroupIdsRawOrEscapedAsTheSameBytes) {
    Harness h;
    const ParseResult raw = h.parse(add_group_with("\"salle-\xC3\xA9t\xC3\xA9-\xF0\x9F\x98\x80\""));
    ASSERT_EQ(raw.error, ErrorCode::kNone);
    const std::string raw_id(raw.command.group_id);
    EXPECT_EQ(raw_id, "salle-\xC3\xA9t\xC3\xA9-\xF0\x9F\x98\x80");
    const ParseResult escaped = h.parse(add_group_with(R"("salle-\u00e9t\u00E9-\ud83d\ude00")"));
    ASSERT_EQ(escaped.error, ErrorCode::kNone);
    EXPECT_EQ(escaped.command.group_id, raw_id);
}

TEST(CommandParser, AcceptsAGroupIdOfExactlyMaxBytes) {
    Harness h(8);
    EXPECT_EQ(h.parse(add_group_with(R"("12345678")")).command.group_id, "12345678");
    EXPECT_EQ(h.error_of(add_group_with("12345678")), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(add_group_with("-1234567")), ErrorCode::kNone);
}

TEST(CommandParser, RejectsAGroupIdOfMaxPlusOneBytes) {
    Harness h(8);
    EXPECT_EQ(h.error_of(add_group_with(R"("123456789")")), ErrorCode::kGroupIdTooLong);
    EXPECT_EQ(h.error_of(add_group_with("123456789")), ErrorCode::kGroupIdTooLong);
    EXPECT_EQ(h.error_of(add_group_with("-12345678")), ErrorCode::kGroupIdTooLong);
}

TEST(CommandParser, MeasuresGroupIdLengthInBytesOfTheDecodedText) {
    Harness h(8);
    // Four é are 8 UTF-8 bytes, though 24 bytes of escaped source.
    EXPECT_EQ(h.error_of(add_group_with(R"("\u00e9\u00e9\u00e9\u00e9")")), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(add_group_with("\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"")), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(add_group_with(R"("\u00e9\u00e9\u00e9\u00e9a")")),
              ErrorCode::kGroupIdTooLong);
    // One emoji is 4 bytes: two fit, two and an 'a' do not.
    EXPECT_EQ(h.error_of(add_group_with(R"("\ud83d\ude00\ud83d\ude00")")), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(add_group_with(R"("\ud83d\ude00\ud83d\ude00a")")),
              ErrorCode::kGroupIdTooLong);
}

TEST(CommandParser, AppliesTheGroupIdLimitToEveryCommand) {
    Harness h(2);
    EXPECT_EQ(h.error_of(R"({"cmd":"leave_group","group_id":"abc"})"), ErrorCode::kGroupIdTooLong);
    EXPECT_EQ(h.error_of(R"({"cmd":"send_to_group","group_id":"abc","message":"m"})"),
              ErrorCode::kGroupIdTooLong);
}

// --- message -------------------------------------------------------------------------------

TEST(CommandParser, RejectsSendToGroupWithoutAMessage) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"cmd":"send_to_group","group_id":"1"})"), ErrorCode::kMissingField);
}

TEST(CommandParser, TreatsAnIntegerMessageAsItsDecimalText) {
    Harness h;
    EXPECT_EQ(h.parse(send_with("42")).command.message, "42");
    EXPECT_EQ(h.parse(send_with("-7")).command.message, "-7");
    EXPECT_EQ(h.parse(send_with("18446744073709551615")).command.message, "18446744073709551615");
}

TEST(CommandParser, KeepsIntegerGroupIdAndIntegerMessageApart) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"send_to_group","group_id":5,"message":-77})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "5");
    EXPECT_EQ(r.command.message, "-77");
}

TEST(CommandParser, RejectsMessagesThatAreNeitherStringNorInteger) {
    Harness h;
    for (const char* json : {"1.5", "true", "null", "[]", R"(["m"])", "{}", R"({"a":"b"})"}) {
        EXPECT_EQ(h.error_of(send_with(json)), ErrorCode::kBadField) << json;
    }
}

TEST(CommandParser, AcceptsAnEmptyMessage) {
    Harness h;
    const ParseResult r = h.parse(send_with(R"("")"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, "");
}

// --- escapes and UTF-8 ---------------------------------------------------------------------

TEST(CommandParser, DecodesTheShortEscapes) {
    Harness h;
    const ParseResult r = h.parse(send_with(R"("a\nb\"c\\d\/e\tf\bg\fh\ri")"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, "a\nb\"c\\d/e\tf\bg\fh\ri");
}

TEST(CommandParser, DecodesUnicodeEscapes) {
    Harness h;
    const ParseResult r = h.parse(send_with(R"("caf\u00e9 \ud83d\ude00 \u20AC")"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC");
}

TEST(CommandParser, DecodesAnEscapedNulIntoTheMessage) {
    Harness h;
    const ParseResult r = h.parse(send_with(R"("a\u0000b")"));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, std::string_view("a\0b", 3));
}

TEST(CommandParser, RejectsInvalidEscapesAsInvalidJson) {
    Harness h;
    for (const char* json :
         {R"("\x41")", R"("\a")", R"("\u12")", R"("\u12G4")", R"("\U00e9")", R"("\'")", R"("\")"}) {
        EXPECT_EQ(h.error_of(send_with(json)), ErrorCode::kInvalidJson) << json;
    }
}

TEST(CommandParser, RejectsLoneSurrogatesAsInvalidJson) {
    Harness h;
    for (const char* json : {R"("\ud83d")", R"("\ude00")", R"("\ud83dx")", R"("\ud83d\u0041")",
                             R"("\ude00\ud83d")", R"("\ud83d\ud83d")"}) {
        EXPECT_EQ(h.error_of(send_with(json)), ErrorCode::kInvalidJson) << json;
        EXPECT_EQ(h.error_of(add_group_with(json)), ErrorCode::kInvalidJson) << json;
    }
}

TEST(CommandParser, RejectsInvalidUtf8AsInvalidJson) {
    Harness h;
    for (const char* json :
         {"\"\xFF\"", "\"\xC0\xAF\"", "\"\xE2\x82\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\""}) {
        EXPECT_EQ(h.error_of(send_with(json)), ErrorCode::kInvalidJson);
    }
}

TEST(CommandParser, RejectsUnescapedControlCharactersInStrings) {
    Harness h;
    EXPECT_EQ(h.error_of(send_with("\"a\nb\"")), ErrorCode::kInvalidJson);
    EXPECT_EQ(h.error_of(send_with("\"a\x01"
                                   "b\"")),
              ErrorCode::kInvalidJson);
}

// --- size ----------------------------------------------------------------------------------

TEST(CommandParser, ParsesAOneMebibyteMessage) {
    Harness h;
    const std::string body = repeat("0123456789abcdef", 65536);
    const ParseResult r = h.parse(send_with("\"" + body + "\""));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message.size(), std::size_t{1} << 20);
    EXPECT_EQ(r.command.message, body);
}

TEST(CommandParser, DecodesAOneMebibyteMessageFullOfEscapes) {
    Harness h;
    const std::string escaped = repeat(R"(\"\\\n\u00e9)", 65536);  // 12 bytes -> 5 decoded
    const ParseResult r = h.parse(send_with("\"" + escaped + "\""));
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.message, repeat("\"\\\n\xC3\xA9", 65536));
}

TEST(CommandParser, ParsesSmallCommandsAfterABigOneAndBigAfterSmall) {
    Harness h;
    const std::string big = send_with("\"" + repeat("x", 3 << 20) + "\"");
    EXPECT_EQ(h.parse(R"({"cmd":"add_group","group_id":"a"})").command.group_id, "a");
    EXPECT_EQ(h.parse(big).command.message.size(), std::size_t{3} << 20);
    EXPECT_EQ(h.parse(R"({"cmd":"add_group","group_id":"b"})").command.group_id, "b");
    EXPECT_EQ(h.parse(big).command.message.size(), std::size_t{3} << 20);
}

// --- object shape --------------------------------------------------------------------------

TEST(CommandParser, LetsTheLastOccurrenceOfARepeatedKeyWin) {
    Harness h;
    const ParseResult r =
        h.parse(R"({"cmd":"add_group","group_id":"first","message":"m1","cmd":"send_to_group",)"
                R"("group_id":"second","message":"m2"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.kind, CommandKind::kSendToGroup);
    EXPECT_EQ(r.command.group_id, "second");
    EXPECT_EQ(r.command.message, "m2");
}

TEST(CommandParser, JudgesOnlyTheLastOccurrenceOfARepeatedKey) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"cmd":"add_group","group_id":[1],"group_id":"ok"})"),
              ErrorCode::kNone);
    EXPECT_EQ(h.error_of(R"({"cmd":"add_group","group_id":"ok","group_id":null})"),
              ErrorCode::kBadField);
    EXPECT_EQ(h.error_of(R"({"cmd":"nope","cmd":"add_group","group_id":1})"), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(R"({"cmd":"add_group","cmd":"nope","group_id":1})"),
              ErrorCode::kUnknownCmd);
}

TEST(CommandParser, UsesTheDecimalTextOfTheLastIntegerOccurrence) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"add_group","group_id":111,"group_id":22})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "22");
}

TEST(CommandParser, IgnoresUnknownExtraKeys) {
    Harness h;
    const ParseResult r = h.parse(
        R"({"id":7,"cmd":"add_group","token":"x","group_id":"g","extra":[1,2,{"a":null}]})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "g");
}

TEST(CommandParser, IgnoresCommandFieldsInsideNestedObjects) {
    Harness h;
    const ParseResult r =
        h.parse(R"({"cmd":"add_group","meta":{"group_id":"inner","cmd":"x"},"group_id":"outer",)"
                R"("list":[{"group_id":"deep"}]})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "outer");
    EXPECT_EQ(h.error_of(R"({"meta":{"cmd":"add_group","group_id":"1"}})"),
              ErrorCode::kMissingField);
}

TEST(CommandParser, MatchesKeysExactlyAfterUnescaping) {
    Harness h;
    EXPECT_EQ(h.error_of(R"({"c\u006dd":"add_group","group_\u0069d":"1"})"), ErrorCode::kNone);
    EXPECT_EQ(h.error_of(R"({"Cmd":"add_group","group_id":"1"})"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(R"({"cmd ":"add_group","group_id":"1"})"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(R"({"cmd":"add_group","group_ID":"1"})"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(R"({"cmd\u0000":"add_group","group_id":"1"})"), ErrorCode::kMissingField);
}

TEST(CommandParser, ReportsAnEmptyObjectAsMissingField) {
    Harness h;
    EXPECT_EQ(h.error_of("{}"), ErrorCode::kMissingField);
    EXPECT_EQ(h.error_of(" { } "), ErrorCode::kMissingField);
}

TEST(CommandParser, AcceptsWhitespaceAroundEveryToken) {
    Harness h;
    const ParseResult r = h.parse(
        " \t\r\n{ \"cmd\" :\n\"send_to_group\"\t,\r\n \"group_id\" : 12 , \"message\" : \"m\" }"
        " \n\t ");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    EXPECT_EQ(r.command.group_id, "12");
    EXPECT_EQ(r.command.message, "m");
}

TEST(CommandParser, RejectsTopLevelValuesThatAreNotObjectsAsNotAnObject) {
    Harness h;
    for (const char* json : {"[]", R"("str")", "123", "-1.5", "null", "true", "false",
                             R"([{"cmd":"add_group","group_id":"1"}])"}) {
        EXPECT_EQ(h.error_of(json), ErrorCode::kNotAnObject) << json;
    }
}

TEST(CommandParser, RejectsTrailingGarbageAfterTheObjectAsInvalidJson) {
    Harness h;
    const std::string ok = R"({"cmd":"add_group","group_id":"1"})";
    for (const char* tail : {"x", "{}", ",", "}", "]", "\"", "0", " null", "\x01"}) {
        EXPECT_EQ(h.error_of(ok + tail), ErrorCode::kInvalidJson) << tail;
    }
}

TEST(CommandParser, RejectsTextThatIsNotJsonAsInvalidJson) {
    Harness h;
    for (const char* json :
         {"", " ", "{", "}", R"({"cmd":"add_group","group_id":"1",})", R"({'cmd':'add_group'})",
          R"({cmd:"add_group"})", R"({"cmd" "add_group"})", R"({"cmd":"add_group" "group_id":1})",
          R"({"cmd":"add_group","group_id":"1")", "add_group", R"({"cmd":"add_group\)", "NaN",
          R"({"cmd":"add_group","group_id":01})", R"({"cmd":"add_group","group_id":+1})",
          R"({"cmd":"add_group","group_id":1.})", R"({"cmd":"add_group","group_id":Infinity})"}) {
        EXPECT_EQ(h.error_of(json), ErrorCode::kInvalidJson) << json;
    }
}

TEST(CommandParser, RejectsInvalidJsonInsideIgnoredFields) {
    Harness h;
    const std::string head = R"({"cmd":"add_group","group_id":"1","x":)";
    for (const char* bad : {"01", "tru", "nul", "[1,]", R"({"a":})", R"("\q")", "1e", "-",
                            "\"\xFF\"", R"({"a" 1})", "[1 2]"}) {
        EXPECT_EQ(h.error_of(head + bad + "}"), ErrorCode::kInvalidJson) << bad;
    }
}

TEST(CommandParser, RejectsNestingDeeperThanSimdjsonsLimitAsInvalidJson) {
    Harness h;
    const std::string deep =
        R"({"cmd":"add_group","group_id":"1","x":)" + repeat("[", 5000) + repeat("]", 5000) + "}";
    EXPECT_EQ(h.error_of(deep), ErrorCode::kInvalidJson);
}

// --- lifetime and allocation ---------------------------------------------------------------

TEST(CommandParser, KeepsViewsValidUntilTheNextParseEvenIfTheInputChanges) {
    Harness h;
    const ParseResult r =
        h.parse(R"({"cmd":"send_to_group","group_id":"gr\u00fcn","message":"line\nbreak"})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    h.input.scribble();
    EXPECT_EQ(r.command.group_id, "gr\xC3\xBCn");
    EXPECT_EQ(r.command.message, "line\nbreak");
}

TEST(CommandParser, KeepsIntegerTextValidUntilTheNextParse) {
    Harness h;
    const ParseResult r = h.parse(R"({"cmd":"send_to_group","group_id":-123,"message":456})");
    ASSERT_EQ(r.error, ErrorCode::kNone);
    h.input.scribble();
    EXPECT_EQ(r.command.group_id, "-123");
    EXPECT_EQ(r.command.message, "456");
}

TEST(CommandParser, DoesNotAllocateOnceWarm) {
    CommandParser parser(128);
    const std::string big = send_with("\"" + repeat(R"(x\n\u00e9)", 100'000) + "\"");
    const std::vector<Padded> inputs = {
        Padded(R"({"cmd":"add_group", "group_id":"123"})"),
        Padded(R"({"cmd":"send_to_group", "group_id":"123", "message":"C'est le message"})"),
        Padded(R"({"cmd":"send_to_group","group_id":-9,"message":18446744073709551615})"),
        Padded(R"({"cmd":"leave_group","group_id":"\ud83d\ude00","x":[[{"y":[]}]]})"),
        Padded(R"({"cmd":"bad"})"),
        Padded(R"([1,2,3])"),
        Padded(R"({"cmd":)"),
        Padded(big),
    };
    g_allocations = 0;
    g_count_allocations = true;
    const ParseResult warm = parser.parse(inputs.back().span());
    const std::size_t warm_up_allocations = g_allocations;
    g_allocations = 0;
    for (int round = 0; round < 100; ++round) {
        for (const Padded& input : inputs) (void)parser.parse(input.span());
    }
    g_count_allocations = false;
    EXPECT_EQ(warm.error, ErrorCode::kNone);
    EXPECT_GT(warm_up_allocations, 0u) << "the counter must see simdjson's allocations";
    EXPECT_EQ(g_allocations, 0u);
}

// --- random and mutated inputs -------------------------------------------------------------

// Mutates `text` once: a byte flipped, inserted, deleted or replaced by a JSON token, a cut, or
// a chunk duplicated.
void mutate(std::string& text, std::mt19937_64& rng) {
    static constexpr std::string_view kTokens[] = {"{",
                                                   "}",
                                                   "[",
                                                   "]",
                                                   ",",
                                                   ":",
                                                   "\"",
                                                   "\\",
                                                   "\\u",
                                                   "\\ud83d",
                                                   "\\ude00",
                                                   "\\u00e9",
                                                   "0",
                                                   "-",
                                                   "1e9",
                                                   "18446744073709551616",
                                                   "null",
                                                   "true",
                                                   "\"cmd\"",
                                                   "\"group_id\"",
                                                   "\"message\"",
                                                   "\"add_group\"",
                                                   "\"send_to_group\"",
                                                   "\xC3",
                                                   "\xFF",
                                                   " "};
    auto pick = [&](std::size_t n) {
        return static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n == 0 ? 1 : n));
    };
    const std::size_t at = pick(text.size() + 1);
    switch (rng() % 6) {
        case 0:
            if (!text.empty()) text[pick(text.size())] ^= static_cast<char>(1 << pick(8));
            break;
        case 1:
            text.insert(at, 1, static_cast<char>(pick(256)));
            break;
        case 2:
            if (at < text.size()) text.erase(at, 1 + pick(4));
            break;
        case 3:
            text.insert(at, kTokens[pick(std::size(kTokens))]);
            break;
        case 4:
            text.resize(at);
            break;
        default: {
            const std::size_t from = pick(text.size() + 1);
            text.insert(at, text.substr(from, pick(16)));
            break;
        }
    }
}

TEST(CommandParser, SurvivesRandomAndMutatedInputs) {
    constexpr std::size_t kMaxGroupId = 16;
    constexpr int kInputs = 100'000;
    const std::string corpus[] = {
        R"({"cmd":"add_group", "group_id":"123"})",
        R"({"cmd":"send_to_group", "group_id":"123", "message":"C'est le message"})",
        R"({"cmd":"leave_group","group_id":42})",
        R"({"cmd":"send_to_group","group_id":"\u00e9\ud83d\ude00","message":"a\"b\\c\u0000"})",
        R"({"cmd":"add_group","group_id":"0123456789abcdef","x":{"y":[1,2.5,null,true]}})",
        R"({"cmd":"send_to_group","group_id":-9223372036854775808,"message":7})",
    };
    std::mt19937_64 rng(0x6865'7261'6c64);  // "herald"
    CommandParser parser(kMaxGroupId);
    std::size_t accepted = 0;
    for (int i = 0; i < kInputs; ++i) {
        std::string text;
        if (i % 10 == 0) {
            text.resize(rng() % 96);
            for (char& c : text) c = static_cast<char>(rng());
        } else {
            text = corpus[rng() % std::size(corpus)];
            const int mutations = 1 + static_cast<int>(rng() % 4);
            for (int m = 0; m < mutations; ++m) mutate(text, rng);
        }
        const Padded input(text);
        const ParseResult r = parser.parse(input.span());
        ASSERT_LT(static_cast<std::size_t>(r.error), kErrorCodeCount) << text;
        if (r.error != ErrorCode::kNone) continue;
        ++accepted;
        ASSERT_LE(r.command.group_id.size(), kMaxGroupId) << text;
        if (r.command.kind != CommandKind::kSendToGroup) {
            ASSERT_TRUE(r.command.message.empty()) << text;
        }
        ASSERT_TRUE(simdjson::validate_utf8(r.command.group_id.data(), r.command.group_id.size()))
            << text;
        ASSERT_TRUE(simdjson::validate_utf8(r.command.message.data(), r.command.message.size()))
            << text;
    }
    ::testing::Test::RecordProperty("accepted", std::to_string(accepted));
    EXPECT_GT(accepted, std::size_t{kInputs / 100}) << "mutations should leave some inputs valid";
}

// --- error frames --------------------------------------------------------------------------

constexpr std::pair<ErrorCode, std::string_view> kNames[] = {
    {ErrorCode::kInvalidJson, "invalid_json"},
    {ErrorCode::kNotAnObject, "not_an_object"},
    {ErrorCode::kUnknownCmd, "unknown_cmd"},
    {ErrorCode::kMissingField, "missing_field"},
    {ErrorCode::kBadField, "bad_field"},
    {ErrorCode::kGroupIdTooLong, "group_id_too_long"},
    {ErrorCode::kTooManyGroups, "too_many_groups"},
    {ErrorCode::kBinaryUnsupported, "binary_unsupported"},
    {ErrorCode::kForbidden, "forbidden"},
};
static_assert(std::size(kNames) + 1 == kErrorCodeCount);

TEST(ErrorFrames, NameEveryErrorCode) {
    EXPECT_EQ(error_code_name(ErrorCode::kNone), "");
    for (const auto& [code, name] : kNames) EXPECT_EQ(error_code_name(code), name);
}

TEST(ErrorFrames, HaveNoFrameForNone) { EXPECT_EQ(error_json(ErrorCode::kNone), ""); }

TEST(ErrorFrames, AreCompactJsonObjectsWithExactlyErrorAndDetail) {
    simdjson::dom::parser json;
    for (const auto& [code, name] : kNames) {
        const std::string_view text = error_json(code);
        SCOPED_TRACE(text);
        simdjson::dom::object object;
        ASSERT_EQ(json.parse(simdjson::padded_string(text)).get_object().get(object),
                  simdjson::SUCCESS);
        ASSERT_EQ(object.size(), 2u);
        std::string_view error;
        std::string_view detail;
        ASSERT_EQ(object["error"].get_string().get(error), simdjson::SUCCESS);
        ASSERT_EQ(object["detail"].get_string().get(detail), simdjson::SUCCESS);
        EXPECT_EQ(error, name);
        EXPECT_GT(detail.size(), 20u);
        EXPECT_TRUE(text.starts_with(R"({"error":")"));

        std::string minified(text.size(), '\0');
        std::size_t minified_size = 0;
        ASSERT_EQ(simdjson::minify(text.data(), text.size(), minified.data(), minified_size),
                  simdjson::SUCCESS);
        EXPECT_EQ(std::string_view(minified.data(), minified_size), text);
    }
}

TEST(ErrorFrames, NameTheFlagThatSetsEachLimit) {
    EXPECT_NE(error_json(ErrorCode::kTooManyGroups).find("--max-groups-per-conn"),
              std::string_view::npos);
    EXPECT_NE(error_json(ErrorCode::kGroupIdTooLong).find("--max-group-id"),
              std::string_view::npos);
}

TEST(ErrorFrames, ExplainThatBinaryFramesAreNotAccepted) {
    EXPECT_EQ(error_json(ErrorCode::kBinaryUnsupported),
              R"({"error":"binary_unsupported","detail":"commands are JSON text frames; )"
              R"(binary frames are not accepted"})");
}

TEST(ErrorFrames, ListEveryCommandInTheUnknownCmdDetail) {
    const std::string_view text = error_json(ErrorCode::kUnknownCmd);
    for (const char* cmd : {"add_group", "send_to_group", "leave_group"}) {
        EXPECT_NE(text.find(cmd), std::string_view::npos) << cmd;
    }
}

TEST(ErrorFrames, AreEmptyForOutOfRangeCodes) {
    EXPECT_EQ(error_json(static_cast<ErrorCode>(200)), "");
    EXPECT_EQ(error_code_name(static_cast<ErrorCode>(200)), "");
}

}  // namespace
}  // namespace herald::net
