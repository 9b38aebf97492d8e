// Tests for the HTTP/1.1 opening handshake: head scanning, judging, accept key and responses.
#include "net/http_handshake.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace herald::net {
namespace {

using namespace std::string_literals;

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3

// The smallest valid upgrade, one line each, so a test can drop or replace a single line.
constexpr std::string_view kGet = "GET /chat HTTP/1.1";
constexpr std::string_view kHost = "Host: server.example.com";
constexpr std::string_view kUpgradeWs = "Upgrade: websocket";
constexpr std::string_view kConnUpgrade = "Connection: Upgrade";
constexpr std::string_view kKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kVersion = "Sec-WebSocket-Version: 13";

// Joins lines with `eol` and ends the head with a blank line.
std::string head(std::initializer_list<std::string_view> lines, std::string_view eol = "\r\n") {
    std::string out;
    for (const std::string_view line : lines) out.append(line).append(eol);
    out.append(eol);
    return out;
}

// The minimal upgrade with `line` added at the end.
std::string upgrade_with(std::string_view line) {
    return head({kGet, kHost, kUpgradeWs, kConnUpgrade, kKey, kVersion, line});
}

// The minimal upgrade with the line equal to `drop` replaced by `line` (or removed if empty).
std::string upgrade_replacing(std::string_view drop, std::string_view line = {}) {
    std::string out;
    for (const std::string_view l : {kGet, kHost, kUpgradeWs, kConnUpgrade, kKey, kVersion}) {
        const std::string_view keep = l == drop ? line : l;
        if (!keep.empty()) out.append(keep).append("\r\n");
    }
    return out.append("\r\n");
}

std::string minimal_upgrade() { return upgrade_replacing({}); }

HeadVerdict verdict_of(std::string_view text) { return parse_request_head(text).verdict; }

std::size_t scan_once(std::string_view text) {
    std::size_t from = 0;
    return find_head_end(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), from);
}

const std::string kChromeHead =
    "GET /chat HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

const std::string kFirefoxHead =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

const std::string kPythonWebsocketsHead =
    "GET / HTTP/1.1\r\n"
    "Host: 127.0.0.1:8765\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "User-Agent: Python/3.11 websockets/12.0\r\n"
    "\r\n";

// ---------------------------------------------------------------------------------------------
// find_head_end

TEST(HttpHandshake, FindsTheEndOfACrlfHead) {
    EXPECT_EQ(scan_once(kChromeHead), kChromeHead.size());
}

TEST(HttpHandshake, FindsTheEndOfAnLfOnlyHead) {
    const std::string text = head({kGet, kHost}, "\n");
    EXPECT_EQ(scan_once(text), text.size());
}

TEST(HttpHandshake, FindsTheEndOfMixedLineEnds) {
    for (const std::string_view text :
         {"GET / HTTP/1.1\r\nHost: a\r\n\n", "GET / HTTP/1.1\nHost: a\n\r\n",
          "GET / HTTP/1.1\nHost: a\r\n\r\n"}) {
        EXPECT_EQ(scan_once(text), text.size()) << text;
    }
}

TEST(HttpHandshake, StopsAtTheBlankLineAndLeavesLaterBytes) {
    const std::string text = kPythonWebsocketsHead + "\x81\x85 frame bytes\r\n\r\n";
    EXPECT_EQ(scan_once(text), kPythonWebsocketsHead.size());
}

TEST(HttpHandshake, ReportsAnIncompleteHeadAndRemembersWhereItStopped) {
    const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n";
    std::size_t from = 0;
    EXPECT_EQ(find_head_end(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), from),
              0u);
    EXPECT_EQ(from, text.size());
}

TEST(HttpHandshake, DoesNotTakeCrCrLfForABlankLine) {
    EXPECT_EQ(scan_once("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), 0u);
    EXPECT_EQ(scan_once("GET / HTTP/1.1\r\r\n\r\r\n"), 0u);
}

TEST(HttpHandshake, DoesNotTakeALeadingCrlfForTheEnd) {
    const std::string text = "\r\n" + head({kGet, kHost});
    EXPECT_EQ(scan_once(text), text.size());
}

TEST(HttpHandshake, FindsNothingInAnEmptyBuffer) {
    std::size_t from = 0;
    EXPECT_EQ(find_head_end(nullptr, 0, from), 0u);
    EXPECT_EQ(from, 0u);
}

TEST(HttpHandshake, RescansFromTheStartWhenScanFromIsPastTheBuffer) {
    std::size_t from = 10'000;
    EXPECT_EQ(find_head_end(reinterpret_cast<const std::uint8_t*>(kChromeHead.data()),
                            kChromeHead.size(), from),
              kChromeHead.size());
}

TEST(HttpHandshake, FindsTheEndAtEverySplitPoint) {
    for (const std::string& text :
         {kChromeHead, kFirefoxHead, head({kGet, kHost, kKey}, "\n"), "GET / HTTP/1.1\n\r\n"s}) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
        for (std::size_t split = 0; split < text.size(); ++split) {
            std::size_t from = 0;
            ASSERT_EQ(find_head_end(bytes, split, from), 0u) << "split " << split;
            ASSERT_EQ(find_head_end(bytes, text.size(), from), text.size()) << "split " << split;
        }
    }
}

TEST(HttpHandshake, FindsTheEndWhenTheHeadArrivesOneByteAtATime) {
    for (const std::string& text : {kChromeHead, head({kGet, kHost, kKey}, "\n")}) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
        std::size_t from = 0;
        for (std::size_t n = 1; n < text.size(); ++n) {
            ASSERT_EQ(find_head_end(bytes, n, from), 0u) << "n " << n;
            ASSERT_EQ(from, n);  // nothing before n is examined again, so the total is linear
        }
        EXPECT_EQ(find_head_end(bytes, text.size(), from), text.size());
    }
}

// ---------------------------------------------------------------------------------------------
// parse_request_head: valid upgrades

TEST(HttpHandshake, AcceptsAChromeUpgrade) {
    const RequestHead h = parse_request_head(kChromeHead);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.target, "/chat");
    EXPECT_EQ(h.key, kRfcKey);
    EXPECT_STREQ(h.reason, "");
}

TEST(HttpHandshake, AcceptsAFirefoxUpgradeWithKeepAliveUpgrade) {
    const RequestHead h = parse_request_head(kFirefoxHead);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.target, "/chat?room=1");
    EXPECT_EQ(h.key, "x3JJHMbDL1EzLkh9GBhXDw==");
}

TEST(HttpHandshake, AcceptsAPythonWebsocketsUpgrade) {
    const RequestHead h = parse_request_head(kPythonWebsocketsHead);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.target, "/");
    EXPECT_EQ(h.key, "AQIDBAUGBwgJCgsMDQ4PEA==");
}

TEST(HttpHandshake, ReturnsViewsIntoTheHead) {
    const RequestHead h = parse_request_head(kChromeHead);
    const char* begin = kChromeHead.data();
    const char* end = begin + kChromeHead.size();
    EXPECT_TRUE(h.target.data() >= begin && h.target.data() + h.target.size() <= end);
    EXPECT_TRUE(h.key.data() >= begin && h.key.data() + h.key.size() <= end);
}

TEST(HttpHandshake, AcceptsAnUpgradeWithLfOnlyLineEnds) {
    const std::string text = head({kGet, kHost, kUpgradeWs, kConnUpgrade, kKey, kVersion}, "\n");
    const RequestHead h = parse_request_head(text);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.key, kRfcKey);
}

TEST(HttpHandshake, AcceptsHeaderNamesInAnyCase) {
    const std::string text =
        head({kGet, "HOST: a", "upgrade: websocket", "CONNECTION: Upgrade",
              "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "SEC-WEBSOCKET-VERSION: 13"});
    const RequestHead h = parse_request_head(text);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.key, kRfcKey);
}

TEST(HttpHandshake, AcceptsUpgradeAndConnectionTokensInAnyCase) {
    EXPECT_EQ(verdict_of(
                  head({kGet, kHost, "Upgrade: WebSocket", "Connection: UPGRADE", kKey, kVersion})),
              HeadVerdict::kUpgrade);
    EXPECT_EQ(verdict_of(
                  head({kGet, kHost, "Upgrade: WEBSOCKET", "Connection: upgrade", kKey, kVersion})),
              HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, FindsUpgradeAnywhereInAConnectionList) {
    for (const std::string_view conn :
         {"Connection: keep-alive, Upgrade", "Connection: Upgrade,keep-alive",
          "Connection:keep-alive ,\tupgrade ", "Connection: , ,Upgrade,,",
          "Connection: TE, Upgrade"}) {
        EXPECT_EQ(verdict_of(upgrade_replacing(kConnUpgrade, conn)), HeadVerdict::kUpgrade) << conn;
    }
}

TEST(HttpHandshake, CombinesSeveralConnectionHeaders) {
    EXPECT_EQ(verdict_of(head({kGet, kHost, kUpgradeWs, "Connection: keep-alive",
                               "Connection: Upgrade", kKey, kVersion})),
              HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, FindsWebsocketAnywhereInAnUpgradeList) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kUpgradeWs, "Upgrade: h2c, websocket")),
              HeadVerdict::kUpgrade);
    EXPECT_EQ(verdict_of(upgrade_replacing(kUpgradeWs, "Upgrade:websocket ,foo/2")),
              HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, TrimsOptionalWhitespaceAroundValues) {
    const std::string key_line = "Sec-WebSocket-Key: \t" + std::string(kRfcKey) + " \t";
    const std::string text = head({kGet, "Host:\ta ", "Upgrade:  websocket\t", "Connection:Upgrade",
                                   key_line, "Sec-WebSocket-Version:\t13 "});
    const RequestHead h = parse_request_head(text);
    EXPECT_EQ(h.verdict, HeadVerdict::kUpgrade);
    EXPECT_EQ(h.key, kRfcKey);
}

TEST(HttpHandshake, IgnoresOneEmptyLineBeforeTheRequestLine) {
    EXPECT_EQ(verdict_of("\r\n" + minimal_upgrade()), HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, AcceptsAnUpgradeOverALaterHttp1Minor) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kGet, "GET /chat HTTP/1.2")), HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, AcceptsAnUpgradeWithContentLengthZero) {
    EXPECT_EQ(verdict_of(upgrade_with("Content-Length: 0")), HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, AcceptsAKeyWhoseUnusedBitsAreNotZero) {
    // RFC 4648 §3.5 lets a decoder accept these; the key is hashed as sent either way.
    EXPECT_EQ(verdict_of(upgrade_replacing(kKey, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==")),
              HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, AcceptsObsTextInAHeaderValue) {
    EXPECT_EQ(verdict_of(upgrade_with("User-Agent: caf\xc3\xa9")), HeadVerdict::kUpgrade);
}

// ---------------------------------------------------------------------------------------------
// parse_request_head: plain requests and 405

TEST(HttpHandshake, TreatsAGetWithoutUpgradeAsPlain) {
    const std::string text = head({"GET /stats?x=1 HTTP/1.1", "Host: a"});
    const RequestHead h = parse_request_head(text);
    EXPECT_EQ(h.verdict, HeadVerdict::kPlain);
    EXPECT_EQ(h.target, "/stats?x=1");
}

TEST(HttpHandshake, TreatsAnUpgradeToAnotherProtocolAsPlain) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kUpgradeWs, "Upgrade: h2c")), HeadVerdict::kPlain);
    EXPECT_EQ(verdict_of(upgrade_replacing(kUpgradeWs, "Upgrade: websocketx")),
              HeadVerdict::kPlain);
}

TEST(HttpHandshake, TreatsAPlainHttp10GetAsPlain) {
    EXPECT_EQ(verdict_of(head({"GET / HTTP/1.0"})), HeadVerdict::kPlain);
}

TEST(HttpHandshake, TreatsAPlainGetWithABodyAsPlain) {
    EXPECT_EQ(verdict_of(head({"GET / HTTP/1.1", "Host: a", "Content-Length: 5"})),
              HeadVerdict::kPlain);
}

TEST(HttpHandshake, RejectsAPostWith405) {
    const std::string text = head({"POST /chat HTTP/1.1", "Host: a"});
    const RequestHead h = parse_request_head(text);
    EXPECT_EQ(h.verdict, HeadVerdict::kMethodNotAllowed);
    EXPECT_EQ(h.target, "/chat");
    EXPECT_STRNE(h.reason, "");
}

TEST(HttpHandshake, RejectsAnUpgradeWithAnotherMethodWith405) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kGet, "HEAD /chat HTTP/1.1")),
              HeadVerdict::kMethodNotAllowed);
}

TEST(HttpHandshake, RejectsALowercaseGetWith405) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kGet, "get /chat HTTP/1.1")),
              HeadVerdict::kMethodNotAllowed);
}

// ---------------------------------------------------------------------------------------------
// parse_request_head: malformed heads (400)

TEST(HttpHandshake, RejectsMalformedRequestLinesWith400) {
    for (const std::string_view line : {"GET  /chat HTTP/1.1",
                                        "GET /chat  HTTP/1.1",
                                        " GET /chat HTTP/1.1",
                                        "GET\t/chat HTTP/1.1",
                                        "GET /chat\tHTTP/1.1",
                                        "GET /chat HTTP/1.1 ",
                                        "GET /chat",
                                        "GET /chat HTTP/1.1 extra",
                                        "GET",
                                        "G(T /chat HTTP/1.1",
                                        "GET /ch\x01t HTTP/1.1",
                                        "GET /ch\x7ft HTTP/1.1",
                                        "GET /caf\xc3\xa9 HTTP/1.1",
                                        "GET /chat http/1.1",
                                        "GET /chat HTTP/1",
                                        "GET /chat HTTP/1.10",
                                        "GET /chat HTTP/11.1",
                                        "GET /chat HTTP/2.0",
                                        "GET /chat HTTP/0.9",
                                        "GET /chat HTTP/1.x"}) {
        const RequestHead h = parse_request_head(upgrade_replacing(kGet, line));
        EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest) << line;
        EXPECT_STRNE(h.reason, "") << line;
    }
}

TEST(HttpHandshake, RejectsWhitespaceBeforeAHeaderColonWith400) {
    const RequestHead h = parse_request_head(upgrade_with("X-Thing : 1"));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "whitespace before a header colon");
    EXPECT_EQ(verdict_of(upgrade_replacing(kHost, "Host\t: a")), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsObsoleteLineFoldingWith400) {
    const RequestHead h = parse_request_head(upgrade_with(" continued"));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "obsolete line folding");
    EXPECT_EQ(verdict_of(head({kGet, "\tHost: a", kUpgradeWs})), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAHeaderLineWithoutAColonWith400) {
    const RequestHead h = parse_request_head(upgrade_with("NoColonHere"));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "header line without a colon");
}

TEST(HttpHandshake, RejectsMalformedHeaderNamesWith400) {
    for (const std::string_view line :
         {": value", "Bad Header: x", "Bad\"Name: x", "N\xc3\xa9: x", "(x): y", "a\x01: b"}) {
        EXPECT_EQ(verdict_of(upgrade_with(line)), HeadVerdict::kBadRequest) << line;
    }
}

TEST(HttpHandshake, RejectsControlCharactersInAValueWith400) {
    for (const std::string_view line : {"X: a\x01z", "X: a\rz", "X: \x7f", "X: a\x1b[0m"}) {
        const RequestHead h = parse_request_head(upgrade_with(line));
        EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest) << line;
        EXPECT_STREQ(h.reason, "control character in a header value");
    }
    EXPECT_EQ(verdict_of(upgrade_with("X: a\tb")), HeadVerdict::kUpgrade);
}

TEST(HttpHandshake, RejectsANulAnywhereWith400) {
    const std::string nul(1, '\0');
    EXPECT_EQ(verdict_of(upgrade_with("X: a" + nul + "b")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_with("X" + nul + ": b")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_replacing(kGet, "GET /" + nul + " HTTP/1.1")),
              HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(nul + minimal_upgrade()), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAStrayCarriageReturnBeforeTheLineEndWith400) {
    EXPECT_EQ(verdict_of("GET /chat HTTP/1.1\r\nHost: a\r\r\n\r\n"), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAHeadWithoutABlankLineWith400) {
    EXPECT_EQ(verdict_of("GET /chat HTTP/1.1\r\nHost: a\r\n"), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of("GET /chat HTTP/1.1"), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(""), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of("\r\n"), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of("\r\n\r\n"), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsTwoHostHeadersWith400) {
    EXPECT_EQ(verdict_of(upgrade_with("Host: b")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(head({"GET / HTTP/1.1", "Host: a", "Host: a"})), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAMalformedContentLengthWith400) {
    for (const std::string_view cl :
         {"Content-Length: -1", "Content-Length: 1 2", "Content-Length: 0x10",
          "Content-Length:", "Content-Length: 0, 0"}) {
        EXPECT_EQ(verdict_of(head({"GET / HTTP/1.1", "Host: a", cl})), HeadVerdict::kBadRequest)
            << cl;
    }
}

// ---------------------------------------------------------------------------------------------
// parse_request_head: upgrade rules

TEST(HttpHandshake, RejectsAnHttp10UpgradeWith400) {
    const RequestHead h = parse_request_head(upgrade_replacing(kGet, "GET /chat HTTP/1.0"));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "WebSocket upgrade needs HTTP/1.1");
}

TEST(HttpHandshake, RejectsAnUpgradeWithoutConnectionUpgradeWith400) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kConnUpgrade)), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_replacing(kConnUpgrade, "Connection: keep-alive")),
              HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_replacing(kConnUpgrade, "Connection: upgraded, keep-alive")),
              HeadVerdict::kBadRequest);
    EXPECT_STREQ(parse_request_head(upgrade_replacing(kConnUpgrade)).reason,
                 "Connection does not list upgrade");
}

TEST(HttpHandshake, RejectsAnUpgradeWithoutHostWith400) {
    const RequestHead h = parse_request_head(upgrade_replacing(kHost));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "missing Host");
}

TEST(HttpHandshake, RejectsAnUpgradeWithAnEmptyOrSpacedHostWith400) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kHost, "Host:")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_replacing(kHost, "Host: a b")), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAnUpgradeWithoutVersionWith400) {
    const RequestHead h = parse_request_head(upgrade_replacing(kVersion));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "missing Sec-WebSocket-Version");
}

TEST(HttpHandshake, RejectsAnUpgradeWithAnotherVersionWith426) {
    for (const std::string_view v :
         {"Sec-WebSocket-Version: 8", "Sec-WebSocket-Version: 13, 8", "Sec-WebSocket-Version: 13,",
          "Sec-WebSocket-Version: 013", "Sec-WebSocket-Version:", "Sec-WebSocket-Version: 1 3"}) {
        const RequestHead h = parse_request_head(upgrade_replacing(kVersion, v));
        EXPECT_EQ(h.verdict, HeadVerdict::kUpgradeRequired) << v;
        EXPECT_STREQ(h.reason, "Sec-WebSocket-Version is not 13");
    }
}

TEST(HttpHandshake, KeepsTheTargetOfA426) {
    const std::string text = upgrade_replacing(kVersion, "Sec-WebSocket-Version: 8");
    EXPECT_EQ(parse_request_head(text).target, "/chat");
}

TEST(HttpHandshake, RejectsAnUpgradeWithTwoVersionHeadersWith426) {
    EXPECT_EQ(verdict_of(upgrade_with("Sec-WebSocket-Version: 13")), HeadVerdict::kUpgradeRequired);
}

TEST(HttpHandshake, RejectsAnUpgradeWithoutKeyWith400) {
    const RequestHead h = parse_request_head(upgrade_replacing(kKey));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "missing Sec-WebSocket-Key");
}

TEST(HttpHandshake, RejectsAnUpgradeWithTwoKeysWith400) {
    const RequestHead h = parse_request_head(upgrade_with(kKey));
    EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest);
    EXPECT_STREQ(h.reason, "more than one Sec-WebSocket-Key");
}

TEST(HttpHandshake, RejectsKeysOfTheWrongLengthWith400) {
    for (const std::string_view key :
         {"AAAAAAAAAAAAAAAA",              // 12 bytes
          "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",  // 20 bytes
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAAw=", ""}) {
        const RequestHead h =
            parse_request_head(upgrade_replacing(kKey, "Sec-WebSocket-Key: " + std::string(key)));
        EXPECT_EQ(h.verdict, HeadVerdict::kBadRequest) << key;
        EXPECT_STREQ(h.reason, "Sec-WebSocket-Key is not 16 bytes");
    }
}

TEST(HttpHandshake, RejectsKeysWithCharactersOutsideBase64With400) {
    for (const std::string_view key :
         {"dGhlIHNhbXBsZSBub25jZQ-=", "dGhlIHNhbXBsZSBub25j_Q==", "dGhlIHNhbXBs*SBub25jZQ==",
          "dGhlIHNhbXBs SBub25jZQ==", "dGhlIHNhbXBsZSBub25jZ\xc3\xa9=",
          "dGhlIHNhbXBsZSBub25j=Q=="}) {
        EXPECT_EQ(verdict_of(upgrade_replacing(kKey, "Sec-WebSocket-Key: " + std::string(key))),
                  HeadVerdict::kBadRequest)
            << key;
    }
}

TEST(HttpHandshake, RejectsKeysWithoutPaddingWith400) {
    EXPECT_EQ(verdict_of(upgrade_replacing(kKey, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ")),
              HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_replacing(kKey, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=")),
              HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, RejectsAnUpgradeWithABodyWith400) {
    EXPECT_EQ(verdict_of(upgrade_with("Content-Length: 3")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_with("Transfer-Encoding: chunked")), HeadVerdict::kBadRequest);
    EXPECT_EQ(verdict_of(upgrade_with("transfer-encoding: identity")), HeadVerdict::kBadRequest);
}

TEST(HttpHandshake, KeepsTheKeyOnlyForAnUpgrade) {
    EXPECT_TRUE(
        parse_request_head(upgrade_replacing(kVersion, "Sec-WebSocket-Version: 8")).key.empty());
    EXPECT_TRUE(parse_request_head(upgrade_replacing(kUpgradeWs)).key.empty());
}

// ---------------------------------------------------------------------------------------------
// websocket_accept and responses

std::string accept_of(std::string_view key) {
    const std::array<char, 28> a = websocket_accept(key);
    return std::string(a.data(), a.size());
}

TEST(HttpHandshake, ComputesTheRfc6455ExampleAccept) {
    EXPECT_EQ(accept_of(kRfcKey), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(HttpHandshake, ComputesAcceptForOtherKeys) {
    EXPECT_EQ(accept_of("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    EXPECT_EQ(accept_of(""), "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
    EXPECT_EQ(accept_of(std::string(200, 'k')), "HXr7Nbki1tHdEVpq+a7G7IV4VJU=");
}

TEST(HttpHandshake, WritesTheSwitchingProtocolsResponse) {
    EXPECT_EQ(switching_protocols_response(kRfcKey),
              "HTTP/1.1 101 Switching Protocols\r\n"
              "Upgrade: websocket\r\n"
              "Connection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
              "\r\n");
}

TEST(HttpHandshake, AppendsExtraHeadersBeforeTheBlankLine) {
    const std::string r = switching_protocols_response(kRfcKey, "Server: herald\r\nX-A: b\r\n");
    const std::string_view tail = "xOo=\r\nServer: herald\r\nX-A: b\r\n\r\n";
    ASSERT_GT(r.size(), tail.size());
    EXPECT_EQ(r.substr(r.size() - tail.size()), tail);
}

TEST(HttpHandshake, WritesACompleteResponseWithBody) {
    EXPECT_EQ(http_response(200, "text/plain", "hello"),
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain\r\n"
              "Content-Length: 5\r\n"
              "Connection: close\r\n"
              "\r\n"
              "hello");
}

TEST(HttpHandshake, AddsAllowToA405) {
    const std::string r = http_response(405, "text/plain", "");
    EXPECT_EQ(r.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
    EXPECT_NE(r.find("\r\nAllow: GET\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nContent-Length: 0\r\n"), std::string::npos);
    EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n");
}

TEST(HttpHandshake, AddsUpgradeAndVersionToA426) {
    const std::string r = http_response(426, "text/plain", "use 13\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u);
    EXPECT_NE(r.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nContent-Length: 7\r\n"), std::string::npos);
    EXPECT_EQ(r.find("Allow:"), std::string::npos);
    EXPECT_EQ(r.substr(r.size() - 11), "\r\n\r\nuse 13\n");
}

TEST(HttpHandshake, OmitsContentTypeWhenNoneIsGiven) {
    EXPECT_EQ(http_response(404, "", ""),
              "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST(HttpHandshake, NamesTheReasonPhraseOfEachStatusHeraldSends) {
    EXPECT_EQ(reason_phrase(101), "Switching Protocols");
    EXPECT_EQ(reason_phrase(200), "OK");
    EXPECT_EQ(reason_phrase(400), "Bad Request");
    EXPECT_EQ(reason_phrase(404), "Not Found");
    EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
    EXPECT_EQ(reason_phrase(426), "Upgrade Required");
    EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reason_phrase(500), "Internal Server Error");
    EXPECT_EQ(reason_phrase(503), "Service Unavailable");
    EXPECT_EQ(reason_phrase(599), "");  // an empty reason phrase is valid HTTP
}

// ---------------------------------------------------------------------------------------------
// Hostile input

// Random bytes and mutated valid heads; the checks are that nothing crashes (run under ASan and
// UBSan) and that every result is coherent.
TEST(HttpHandshake, SurvivesRandomAndMutatedHeads) {
    std::mt19937 rng(6455);
    const std::vector<std::string> seeds = {kChromeHead, kFirefoxHead, kPythonWebsocketsHead,
                                            head({kGet, kHost, kKey}, "\n")};
    using namespace std::string_view_literals;
    constexpr std::string_view kAlphabet =
        "GET /HTTP1.:\r\n\t ,=Upgrade websocket13-Key\0\x80\xff"sv;
    std::size_t upgrades = 0;
    for (int round = 0; round < 50'000; ++round) {
        std::string text;
        if (round % 2 == 0) {
            text.resize(rng() % 400);
            for (char& c : text) {
                c = (rng() % 2) ? kAlphabet[rng() % kAlphabet.size()] : static_cast<char>(rng());
            }
        } else {
            text = seeds[rng() % seeds.size()];
            for (std::size_t edits = 1 + rng() % 4; edits > 0 && !text.empty(); --edits) {
                const std::size_t at = rng() % text.size();
                switch (rng() % 4) {
                    case 0:
                        text[at] = static_cast<char>(rng());
                        break;
                    case 1:
                        text.erase(at, 1 + rng() % 8);
                        break;
                    case 2:
                        text.insert(at, 1, kAlphabet[rng() % kAlphabet.size()]);
                        break;
                    default:
                        text.resize(at);
                        break;
                }
            }
        }
        std::size_t from = 0;
        const std::size_t end =
            find_head_end(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), from);
        ASSERT_LE(end, text.size());
        // Parse exactly what the server would hand over, and the whole buffer too.
        for (const std::string_view input :
             {std::string_view(text).substr(0, end), std::string_view(text)}) {
            const RequestHead h = parse_request_head(input);
            ASSERT_NE(h.reason, nullptr);
            const char* lo = input.data();
            const char* hi = input.data() + input.size();
            if (h.verdict == HeadVerdict::kUpgrade) {
                ++upgrades;
                ASSERT_EQ(h.key.size(), 24u);
                ASSERT_TRUE(h.key.data() >= lo && h.key.data() + 24 <= hi);
                ASSERT_EQ(websocket_accept(h.key).size(), 28u);
            } else {
                ASSERT_TRUE(h.key.empty());
            }
            if (h.verdict == HeadVerdict::kUpgrade || h.verdict == HeadVerdict::kPlain) {
                ASSERT_FALSE(h.target.empty());
                ASSERT_TRUE(h.target.data() >= lo && h.target.data() + h.target.size() <= hi);
            } else {
                ASSERT_STRNE(h.reason, "");
            }
        }
    }
    EXPECT_GT(upgrades, 0u);  // the mutations leave some heads valid, so both paths are exercised
}

}  // namespace
}  // namespace herald::net
