// The seed's own test, exactly: a client joins group 123 and sends "hello" to it; it comes back.
#include <gtest/gtest.h>

#include "tests/support/herald_process.h"
#include "tests/support/ws_client.h"

namespace herald::test {
namespace {

TEST(SeedScenario, SenderInGroupReceivesItsOwnMessage) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    auto ws = WsClient::connect(herald.port());
    ASSERT_TRUE(ws);
    // The seed's JavaScript sends exactly these two texts, back to back, on open.
    ASSERT_TRUE(ws->send_text(R"({"cmd":"add_group", "group_id":"123"})"));
    ASSERT_TRUE(ws->send_text(R"({"cmd":"send_to_group", "group_id":"123", "message":"hello"})"));
    EXPECT_EQ(ws->read_text(), "hello");
    EXPECT_TRUE(ws->quiet_for(200));  // add_group sends nothing back, and nothing else comes
}

TEST(SeedScenario, ListeningLineNamesTheAddress) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok()) << herald.stderr_text();
    EXPECT_EQ(herald.listening_line(),
              "herald listening on ws://127.0.0.1:" + std::to_string(herald.port()));
}

TEST(SeedScenario, IntegerGroupIdIsTheSameGroupAsItsString) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto member = WsClient::connect(herald.port());
    auto sender = WsClient::connect(herald.port());
    ASSERT_TRUE(member && sender);
    member->send_text(R"({"cmd":"add_group","group_id":123})");
    ASSERT_TRUE(member->sync());
    sender->send_text(R"({"cmd":"send_to_group","group_id":"123","message":"by string"})");
    EXPECT_EQ(member->read_text(), "by string");
    sender->send_text(R"({"cmd":"send_to_group","group_id":123,"message":"by number"})");
    EXPECT_EQ(member->read_text(), "by number");
}

TEST(SeedScenario, MessageIsJsonDecodedBeforeDelivery) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto ws = WsClient::connect(herald.port());
    ASSERT_TRUE(ws);
    ws->add_group("g");
    ws->send_text(
        R"({"cmd":"send_to_group","group_id":"g","message":"a\"b\\c\n\u00e9\ud83d\ude00"})");
    EXPECT_EQ(ws->read_text(), "a\"b\\c\n\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(SeedScenario, LeaveGroupStopsDelivery) {
    HeraldProcess herald;
    ASSERT_TRUE(herald.ok());
    auto ws = WsClient::connect(herald.port());
    ASSERT_TRUE(ws);
    ws->add_group("g");
    ws->send_text(R"({"cmd":"leave_group","group_id":"g"})");
    ws->send_to_group("g", "nobody");
    ASSERT_TRUE(ws->sync());
    EXPECT_TRUE(ws->quiet_for(200));
}

}  // namespace
}  // namespace herald::test
