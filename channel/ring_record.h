// What the records in the shared-memory rings (channel/shm_ring.h) carry: their types, the
// flags of a publish record, and the header a publish record's payload begins with.
#pragma once

#include <cstddef>
#include <cstdint>

namespace herald::channel {

// Record types in the rings (RecordHeader::type; 0 is the ring's own kPaddingRecord).
enum RecordType : std::uint16_t {
    kPublishRecord = 1,   // a send_to_group event (see PublishHeader)
    kInterestRecord = 2,  // a group gained its first (flags 1) / lost its last (flags 0) local
                          // member; payload: the group id. Read by the hub.
    kResetRecord = 3,     // a worker's interest starts over (flags: ResetFlags) (hub)
    kResyncRecord = 4,    // the hub asks for whole interest sets: empty payload, of every worker
                          // (it (re)started); a u32 process id, of that worker only (it missed
                          // records of its ring). Answered by kResetBegin, joins, kResetEnd.
    kLostRecord = 5,      // the hub: a peer hub dropped messages of the group in the payload
                          // (empty payload: of every group); workers close its members 1013
};

// Flags of a reset record. A worker's whole interest set (the answer to a resync) is framed:
// kResetBegin, an interest record (flags 1) per group it holds, kResetEnd. Live interest
// records may come in between, in ring order; the hub then believes exactly the groups joined
// since kResetBegin and not left since (channel/interest_table.h).
enum ResetFlags : std::uint16_t {
    kResetRestart = 0,  // the worker (re)started with no members: forget what it held
    kResetBegin = 1,    // its whole set begins
    kResetEnd = 2,      // its whole set is complete: forget what was not announced since begin
};

// Flags of a publish record: a message larger than one record travels as a run of chunks
// (first, middle..., last) in its writer's ring; a whole message is first|last.
enum PublishFlags : std::uint16_t {
    kChunkMiddle = 0,
    kChunkFirst = 1,
    kChunkLast = 2,
    kWholeMessage = kChunkFirst | kChunkLast,
};

// The payload of a whole message or a first chunk begins with this header, then the group id,
// then (the start of) the message. Middle and last chunks carry message bytes only. Integers
// are in the host's byte order (the rings never leave the host).
//
//  0       2       4               8
//  +-------+-------+---------------+------------------+--------------------+
//  | glen  | 0     | message_len   | group (glen B)   | message bytes ...  |
//  +-------+-------+---------------+------------------+--------------------+
struct PublishHeader {
    std::uint16_t group_len;    // bytes of the group id that follows the header
    std::uint16_t reserved;     // 0
    std::uint32_t message_len;  // the whole message, across chunks
};
constexpr std::size_t kPublishHeaderGroupLenOffset = 0;
constexpr std::size_t kPublishHeaderReservedOffset = 2;
constexpr std::size_t kPublishHeaderMessageLenOffset = 4;
constexpr std::size_t kPublishHeaderSize = 8;
static_assert(offsetof(PublishHeader, group_len) == kPublishHeaderGroupLenOffset);
static_assert(offsetof(PublishHeader, reserved) == kPublishHeaderReservedOffset);
static_assert(offsetof(PublishHeader, message_len) == kPublishHeaderMessageLenOffset);
static_assert(sizeof(PublishHeader) == kPublishHeaderSize);

}  // namespace herald::channel
