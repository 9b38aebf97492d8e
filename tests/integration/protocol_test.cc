// Hostile and unusual WebSocket input against the real server: every case gets its defined
// answer (a close code or an error frame) while a bystander keeps being served.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

using net::Opcode;

class Protocol : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(herald_.ok()) << herald_.stderr_text();
        bystander_ = WsClient::connect(herald_.port());
        ASSERT_TRUE(bystander_);
        bystander_->add_group("by");
        ASSERT_TRUE(bystander_->sync());
    }

    // The bystander still gets its own publish: the server is up and serving others.
    void ExpectBystanderServed() {
        const std::string msg = "alive-" + std::to_string(++round_);
        ASSERT_TRUE(bystander_->send_to_group("by", msg));
        EXPECT_EQ(bystander_->read_text(), msg);
    }

    std::unique_ptr<WsClient> Connect() {
        auto ws = WsClient::connect(herald_.port());
        EXPECT_TRUE(ws);
        return ws;
    }

    // Sends raw bytes on a fresh connection and returns the close code the server answers.
    std::uint16_t CloseCodeFor(std::string_view bytes) {
        auto ws = Connect();
        if (!ws) return 0;
        ws->send_raw(bytes);
        const std::uint16_t code = ws->read_until_close();
        EXPECT_TRUE(ws->wait_eof()) << "server must close the TCP connection after failing it";
        ExpectBystanderServed();
        return code;
    }

    HeraldProcess herald_{
        {"--max-message", "4096", "--max-group-id", "8", "--max-groups-per-conn", "3"}};
    std::unique_ptr<WsClient> bystander_;
    int round_ = 0;
};

// A masked client frame, built by hand so tests can break any part of it.
std::string frame(std::uint8_t first, std::string_view payload, bool masked = true) {
    std::string out;
    out.push_back(static_cast<char>(first));
    const std::uint8_t mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
        out.push_back(static_cast<char>(mask_bit | payload.size()));
    } else {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(payload.size() >> 8));
        out.push_back(static_cast<char>(payload.size() & 0xFF));
    }
    if (masked) out.append("\0\0\0\0", 4);  // an all-zero key leaves the payload as it is
    out.append(payload);
    return out;
}

TEST_F(Protocol, UnmaskedFrameIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x81, "{}", false)), 1002);
}

TEST_F(Protocol, RsvBitWithoutExtensionIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x81 | 0x40, "{}")), 1002);
}

TEST_F(Protocol, UnknownOpcodeIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x83, "x")), 1002);
    EXPECT_EQ(CloseCodeFor(frame(0x8B, "x")), 1002);
}

TEST_F(Protocol, OversizedOrFragmentedControlFrameIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x89, std::string(126, 'p'))), 1002);
    EXPECT_EQ(CloseCodeFor(frame(0x09, "p")), 1002);
}

TEST_F(Protocol, ContinuationWithoutStartIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x80, "x")), 1002);
}

TEST_F(Protocol, NewDataFrameInsideFragmentedMessageIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x01, "{") + frame(0x81, "}")), 1002);
}

TEST_F(Protocol, LengthWithTopBitSetIsClosedWith1002) {
    std::string bad("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x01\0\0\0\0", 14);
    EXPECT_EQ(CloseCodeFor(bad), 1002);
}

TEST_F(Protocol, CloseWithOneByteBodyIsClosedWith1002) {
    EXPECT_EQ(CloseCodeFor(frame(0x88, "\x03")), 1002);
}

TEST_F(Protocol, CloseWithInvalidCodeIsClosedWith1002) {
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
        std::string body = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
        EXPECT_EQ(CloseCodeFor(frame(0x88, body)), 1002) << code;
    }
}

TEST_F(Protocol, CloseReasonWithInvalidUtf8IsClosedWith1007) {
    EXPECT_EQ(CloseCodeFor(frame(0x88, "\x03\xE8\xC3\x28")), 1007);
}

TEST_F(Protocol, InvalidUtf8TextIsClosedWith1007) {
    EXPECT_EQ(CloseCodeFor(frame(0x81, "\xED\xA0\x80")), 1007);  // a surrogate
    EXPECT_EQ(CloseCodeFor(frame(0x81, "\xC0\xAF")), 1007);      // an overlong
}

TEST_F(Protocol, InvalidUtf8AcrossFragmentsIsClosedWith1007) {
    // é split validly passes; a truncated sequence at the end of the message fails.
    EXPECT_EQ(CloseCodeFor(frame(0x01, "\xC3") + frame(0x00, "\xA9") + frame(0x80, "\xE2\x82")),
              1007)
        << "unfinished at FIN";
    auto ws = Connect();
    ws->send_raw(frame(0x01, "\xF0\x9F") + frame(0x80, "\x28"));
    EXPECT_EQ(ws->read_until_close(), 1007);
}

TEST_F(Protocol, MessageOverMaxMessageIsClosedWith1009) {
    EXPECT_EQ(CloseCodeFor(frame(0x81, std::string(4097, 'a'))), 1009);
    EXPECT_EQ(
        CloseCodeFor(frame(0x01, std::string(3000, 'a')) + frame(0x80, std::string(1097, 'a'))),
        1009);
}

TEST_F(Protocol, MessageAtMaxMessageIsAccepted) {
    auto ws = Connect();
    const std::string prefix = R"({"cmd":"send_to_group","group_id":"m","message":")";
    const std::string text = prefix + std::string(4096 - prefix.size() - 2, 'z') + "\"}";
    ASSERT_EQ(text.size(), 4096u);
    ws->add_group("m");
    ws->send_text(text);
    auto got = ws->read_text();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->size(), 4096 - prefix.size() - 2);
}

TEST_F(Protocol, PingIsAnsweredWithPongCarryingTheSamePayload) {
    auto ws = Connect();
    ws->send_frame(Opcode::kPing, "payload-123");
    auto f = ws->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, Opcode::kPong);
    EXPECT_EQ(f->payload, "payload-123");
}

TEST_F(Protocol, UnsolicitedPongIsIgnored) {
    auto ws = Connect();
    ws->send_frame(Opcode::kPong, "nobody asked");
    ws->add_group("p");
    ws->send_to_group("p", "after pong");
    EXPECT_EQ(ws->read_text(), "after pong");
}

TEST_F(Protocol, FragmentedCommandWithInterleavedPingWorks) {
    auto ws = Connect();
    ws->add_group("frag");
    ws->send_frame(Opcode::kText, R"({"cmd":"send_to_)", false);
    ws->send_frame(Opcode::kPing, "mid");
    ws->send_frame(Opcode::kContinuation, R"(group","group_id":"frag",)", false);
    ws->send_frame(Opcode::kContinuation, R"("message":"joined up"})", true);
    auto pong = ws->read_frame();
    ASSERT_TRUE(pong);
    EXPECT_EQ(pong->opcode, Opcode::kPong);
    EXPECT_EQ(ws->read_text(), "joined up");
}

TEST_F(Protocol, CloseHandshakeEchoesTheCodeThenClosesTcp) {
    auto ws = Connect();
    ws->send_close(1000, "bye");
    EXPECT_EQ(ws->read_until_close(), 1000);
    EXPECT_TRUE(ws->wait_eof());
    auto ws2 = Connect();
    ws2->send_close(4321);
    EXPECT_EQ(ws2->read_until_close(), 4321);
    auto ws3 = Connect();
    ws3->send_frame(Opcode::kClose, "");
    EXPECT_EQ(ws3->read_until_close(), 1005) << "an empty close is answered with an empty close";
    EXPECT_TRUE(ws3->wait_eof());
}

TEST_F(Protocol, HeadAndFramesInOneWriteAreBothServed) {
    const int fd = tcp_connect(herald_.port());
    ASSERT_GE(fd, 0);
    const std::string all =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
        frame(0x81, R"({"cmd":"add_group","group_id":"p"})") +
        frame(0x81, R"({"cmd":"send_to_group","group_id":"p","message":"pipelined"})");
    ASSERT_EQ(send(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
    std::string got;
    char buf[4096];
    while (got.find("pipelined") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0) break;
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    close(fd);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 101"));
    EXPECT_NE(got.find("pipelined"), std::string::npos);
}

// --- commands that fail get one error frame and the connection stays open

struct BadCommand {
    const char* text;
    const char* code;
};

TEST_F(Protocol, EachBadCommandGetsOneErrorFrameAndTheConnectionStaysOpen) {
    const BadCommand cases[] = {
        {R"({"cmd":"add_group",)", "invalid_json"},
        {R"(not json at all)", "invalid_json"},
        {R"({"cmd":"add_group","group_id":"1"} trailing)", "invalid_json"},
        {R"(["add_group"])", "not_an_object"},
        {R"("add_group")", "not_an_object"},
        {R"({"cmd":"subscribe","group_id":"1"})", "unknown_cmd"},
        {R"({"group_id":"1"})", "missing_field"},
        {R"({"cmd":"add_group"})", "missing_field"},
        {R"({"cmd":"send_to_group","group_id":"1"})", "missing_field"},
        {R"({"cmd":7,"group_id":"1"})", "bad_field"},
        {R"({"cmd":"add_group","group_id":1.5})", "bad_field"},
        {R"({"cmd":"add_group","group_id":null})", "bad_field"},
        {R"({"cmd":"add_group","group_id":["1"]})", "bad_field"},
        {R"({"cmd":"send_to_group","group_id":"1","message":{"a":1}})", "bad_field"},
        {R"({"cmd":"add_group","group_id":"123456789"})", "group_id_too_long"},
    };
    auto ws = Connect();
    for (const BadCommand& bad : cases) {
        ASSERT_TRUE(ws->send_text(bad.text));
        auto reply = ws->read_text();
        ASSERT_TRUE(reply) << bad.text;
        EXPECT_NE(reply->find(std::string("{\"error\":\"") + bad.code + "\""), std::string::npos)
            << bad.text << " -> " << *reply;
        EXPECT_NE(reply->find("\"detail\":\""), std::string::npos);
    }
    ws->add_group("still");
    ws->send_to_group("still", "open");
    EXPECT_EQ(ws->read_text(), "open");
    ExpectBystanderServed();
}

TEST_F(Protocol, TooManyGroupsGetsAnErrorFrame) {
    auto ws = Connect();
    ws->add_group("g1");
    ws->add_group("g2");
    ws->add_group("g3");
    ws->add_group("g4");
    auto reply = ws->read_text();
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find("\"too_many_groups\""), std::string::npos) << *reply;
    ws->send_to_group("g3", "in g3");
    EXPECT_EQ(ws->read_text(), "in g3");
}

TEST_F(Protocol, BinaryFrameGetsAnErrorFrame) {
    auto ws = Connect();
    ws->send_frame(Opcode::kBinary, R"({"cmd":"add_group","group_id":"1"})");
    auto reply = ws->read_text();
    ASSERT_TRUE(reply);
    EXPECT_NE(reply->find("\"binary_unsupported\""), std::string::npos) << *reply;
    EXPECT_TRUE(ws->sync());
}

TEST_F(Protocol, ErrorFloodIsClosedWith1008AfterTheDocumentedCount) {
    auto ws = Connect();
    for (int i = 0; i < 40; ++i) ws->send_text("{bad");
    int errors = 0;
    std::uint16_t code = 0;
    while (auto f = ws->read_frame()) {
        if (f->opcode == Opcode::kText) ++errors;
        if (f->opcode == Opcode::kClose) {
            code = f->close_code();
            break;
        }
    }
    EXPECT_EQ(errors, 32);  // --max-errors default
    EXPECT_EQ(code, 1008);
    ExpectBystanderServed();
}

}  // namespace
}  // namespace herald::test
