#include "channel/shm_relay.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/ws_frame.h"

namespace herald::channel {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Keeps every message delivered, as (group, payload).
struct Collect final : RecordSink {
    core::BlockPool blocks;
    std::vector<std::pair<std::string, std::string>> got;
    bool wants(std::string_view) override { return true; }
    core::BlockPool& pool() override { return blocks; }
    void deliver(std::uint32_t, std::string_view group, core::Block* frame) override {
        const auto p = net::frame_payload(frame);
        got.emplace_back(std::string(group), std::string(p.begin(), p.end()));
    }
    void lapped(std::uint32_t from, std::uint64_t records) override {
        lapped_from = from;
        lapped_records += records;
    }
    std::uint32_t lapped_from = UINT32_MAX;
    std::uint64_t lapped_records = 0;
};

// A real two-process region in this process: process 0 writes, process 1 reads through a
// ShmRelay.
struct Host {
    core::Result<ShmRegion> region;
    std::vector<int> wake{eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK)};
    std::unique_ptr<ShmRelay> reader;
    Collect sink;

    explicit Host(std::uint64_t capacity) : region(ShmRegion::create(2, capacity)) {
        EXPECT_TRUE(region);
        reader = std::make_unique<ShmRelay>(*region, 1, wake, RelayOptions{});
        reader->attach();
    }
    ~Host() {
        reader.reset();
        for (int fd : wake) close(fd);
    }
    void poll() {
        for (int i = 0; i < 8; ++i) (void)reader->poll_into(sink);
    }
};

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

// The payload of a first (or whole) publish record: PublishHeader, group, message bytes.
std::string first_payload(std::string_view group, std::uint32_t message_len,
                          std::string_view part) {
    const PublishHeader h{static_cast<std::uint16_t>(group.size()), 0, message_len};
    std::string out(reinterpret_cast<const char*>(&h), sizeof h);
    out.append(group).append(part);
    return out;
}

TEST(ShmRelay, CongestedWhileItsRecordsWaitForASlowReaderAndNotAfter) {
    Host host(4096);
    RelayOptions options;
    options.congestion_bytes = 1024;
    ShmRelay writer(*host.region, 0, host.wake, options);
    for (int i = 0; i < 40; ++i) writer.publish("g", bytes(pattern(200)));
    EXPECT_TRUE(writer.congested());
    for (int pass = 0; pass < 100 && writer.congested(); ++pass) {
        host.poll();
        writer.flush();
    }
    EXPECT_FALSE(writer.congested());
    host.poll();
    writer.flush();
    host.poll();
    EXPECT_EQ(host.sink.got.size(), 40u) << "a reader that progresses loses nothing";
    EXPECT_EQ(host.sink.lapped_records, 0u);
}

TEST(ShmRelay, AReaderLappedForAStallIsToldHowManyRecordsItLost) {
    Host host(4096);
    RingWriter raw(host.region->ring(0), 1u << 20, 10 * core::kMillisecond);
    const core::Nanos t0 = 1'000'000'000;
    for (int i = 0; i < 40; ++i) {
        raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("g", 200, pattern(200))), {},
                  t0);
    }
    EXPECT_TRUE(raw.flush(t0 + 10 * core::kMillisecond)) << "the stalled reader was lapped";
    host.poll();
    EXPECT_EQ(host.sink.lapped_from, 0u);
    EXPECT_GT(host.sink.lapped_records, 0u);
    EXPECT_EQ(host.sink.got.size() + host.sink.lapped_records, 40u);
    const std::uint64_t once = host.sink.lapped_records;
    host.poll();
    EXPECT_EQ(host.sink.lapped_records, once) << "reported once";
}

TEST(ShmRelay, ReassemblesAMessageLargerThanOneRecord) {
    Host host(16384);
    ShmRelay writer(*host.region, 0, host.wake, RelayOptions{});
    const std::string message = pattern(10000);  // about three records of this ring
    writer.publish("room", bytes(message));
    writer.flush();
    host.poll();
    ASSERT_EQ(host.sink.got.size(), 1u);
    EXPECT_EQ(host.sink.got[0].first, "room");
    EXPECT_EQ(host.sink.got[0].second, message);
}

TEST(ShmRelay, ReassemblesChunkedMessagesAcrossTheRingsWrap) {
    Host host(4096);
    ShmRelay writer(*host.region, 0, host.wake, RelayOptions{});
    for (int i = 0; i < 12; ++i) {
        const std::string message = std::to_string(i) + pattern(2500);
        writer.publish("g" + std::to_string(i), bytes(message));
        writer.flush();
        host.poll();
        ASSERT_EQ(host.sink.got.size(), static_cast<std::size_t>(i + 1));
        EXPECT_EQ(host.sink.got.back().first, "g" + std::to_string(i));
        EXPECT_EQ(host.sink.got.back().second, message);
    }
}

TEST(ShmRelay, AFirstChunkWhoseLastNeverComesIsNeverDelivered) {
    Host host(16384);
    RingWriter raw(host.region->ring(0), 1u << 20);
    raw.write(kPublishRecord, kChunkFirst, bytes(first_payload("room", 100, "forty bytes")));
    raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("room", 5, "whole")));
    // A new run restarts reassembly: the abandoned first chunk leaves nothing behind.
    raw.write(kPublishRecord, kChunkFirst, bytes(first_payload("room", 6, "abc")));
    raw.write(kPublishRecord, kChunkLast, bytes("def"));
    host.poll();
    ASSERT_EQ(host.sink.got.size(), 2u);
    EXPECT_EQ(host.sink.got[0].second, "whole");
    EXPECT_EQ(host.sink.got[1].second, "abcdef");
}

TEST(ShmRelay, MiddleAndLastChunksWithoutTheirFirstAreDiscarded) {
    Host host(16384);
    RingWriter raw(host.region->ring(0), 1u << 20);
    raw.write(kPublishRecord, kChunkMiddle, bytes("stray middle"));
    raw.write(kPublishRecord, kChunkLast, bytes("stray last"));
    raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("room", 2, "ok")));
    host.poll();
    ASSERT_EQ(host.sink.got.size(), 1u);
    EXPECT_EQ(host.sink.got[0].second, "ok");
}

TEST(ShmRelay, ARunShorterOrLongerThanItsDeclaredLengthIsDiscarded) {
    Host host(16384);
    RingWriter raw(host.region->ring(0), 1u << 20);
    raw.write(kPublishRecord, kChunkFirst, bytes(first_payload("room", 10, "ab")));
    raw.write(kPublishRecord, kChunkLast, bytes("cd"));  // 4 of 10 bytes
    raw.write(kPublishRecord, kChunkFirst, bytes(first_payload("room", 3, "ab")));
    raw.write(kPublishRecord, kChunkLast, bytes("cdef"));  // 6 of 3 bytes
    raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("room", 4, "long")));
    host.poll();
    ASSERT_EQ(host.sink.got.size(), 1u);
    EXPECT_EQ(host.sink.got[0].second, "long");
}

TEST(ShmRelay, AWholeMessageWhoseLengthDisagreesIsDiscarded) {
    Host host(16384);
    RingWriter raw(host.region->ring(0), 1u << 20);
    raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("room", 9, "short")));
    raw.write(kPublishRecord, kWholeMessage, bytes(first_payload("room", 3, "yes")));
    host.poll();
    ASSERT_EQ(host.sink.got.size(), 1u);
    EXPECT_EQ(host.sink.got[0].second, "yes");
}

}  // namespace
}  // namespace herald::channel
