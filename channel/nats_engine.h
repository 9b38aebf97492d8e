// The hub's side of the cluster with --engine nats: one connection to a NATS cluster (cnats,
// <nats/nats.h>) instead of the peer mesh. A group is one subject (PREFIX + base64url of its
// id, channel/nats_codec.h); the hub subscribes to it while the host has members and
// publishes every local send_to_group to it with order headers (origin node, incarnation, seq,
// previous seq). A receiver that sees a seq gap reports the group lost (its members are closed
// with 1013, as for a LOST from a mesh peer).
//
// Threads: cnats reads, writes, reconnects and delivers on its own threads. Its message
// callback only queues the natsMsg (bounded by --nats-buffer bytes; beyond, the message is
// dropped and its group reported lost) and wakes the hub's loop through an eventfd; everything
// else (publish, subscribe, the order checks, the rings) runs on the hub's thread.
// docs/CLUSTER.md says why this and not cnats's event-loop adapter.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel/hub_options.h"
#include "channel/nats_codec.h"
#include "channel/poller.h"
#include "core/result.h"
#include "net/metrics_text.h"

// cnats's types, kept out of the hub's headers.
typedef struct __natsOptions natsOptions;
typedef struct __natsConnection natsConnection;
typedef struct __natsSubscription natsSubscription;
typedef struct __natsMsg natsMsg;

namespace herald::channel::hub {

// What the engine counts (for /stats and /metrics).
struct NatsCounters {
    std::uint64_t msgs_in = 0;           // messages from NATS delivered to this host's workers
    std::uint64_t bytes_in = 0;          // their bytes
    std::uint64_t msgs_out = 0;          // messages handed to the client library
    std::uint64_t bytes_out = 0;         // their bytes
    std::uint64_t publish_errors = 0;    // publishes the client library refused (seq consumed)
    std::uint64_t gaps = 0;              // seq gaps seen (a group reported lost each)
    std::uint64_t stale = 0;             // messages with a seq already seen (dropped)
    std::uint64_t dropped_in = 0;        // messages dropped before the hub read them (queue full)
    std::uint64_t bad_messages = 0;      // messages without valid herald headers (dropped)
    std::uint64_t reconnects = 0;        // reconnections after the connection was lost
    std::uint64_t lost_all = 0;          // reconnections that reported every group lost
    std::uint64_t syncs_out = 0;         // sync messages sent (after a reconnect or an error)
    std::uint64_t subscribe_errors = 0;  // subscriptions the client library refused
};

class NatsEngine final : public HandleOwner {
  public:
    // A message from another host for `group`, checked and in order per origin.
    using OnPublish = std::function<void(std::string_view, std::span<const std::uint8_t>)>;
    // Messages of `group` (empty: of every group) were lost on the way to this host.
    using OnLost = std::function<void(std::string_view)>;

    // Takes --node-id, --nats-url, --nats-creds, --nats-ca, --nats-prefix, --nats-buffer and the
    // limits.
    NatsEngine(const HubOptions& options, OnPublish on_publish, OnLost on_lost);
    ~NatsEngine();  // unsubscribes, closes the connection, frees what is queued
    NatsEngine(const NatsEngine&) = delete;
    NatsEngine& operator=(const NatsEngine&) = delete;

    // Adds the wake eventfd to `poller` and starts connecting (a NATS server that is not up
    // yet is retried: not an error). An error is one line (bad options, creds file).
    core::Status start(Poller& poller);
    // Publishes `message` to `group`'s subject with the order headers. Never blocks: while
    // disconnected, cnats buffers up to --nats-buffer bytes; a refused publish is counted and
    // its seq still consumed, so receivers see the gap (a sync follows once connected).
    void publish(std::string_view group, std::span<const std::uint8_t> message);
    // The host gained its first member of `group` / lost its last.
    void subscribe(std::string_view group);
    void unsubscribe(std::string_view group);
    // Reconnection follow-up, syncs, forgetting idle seqs; call every few tens of ms.
    void tick(core::Nanos now);

    // The connection is up (/readyz).
    bool connected() const;
    // The server connected to ("" when none).
    std::string connected_url() const;
    std::size_t subscriptions() const noexcept { return subs_.size(); }
    const NatsCounters& counters() const noexcept { return counters_; }
    // ,"nats":{...} of /stats (appended to `out`).
    void append_stats(std::string& out) const;
    // herald_nats_* families (appended to `m`).
    void append_metrics(net::MetricsText& m) const;

    // HandleOwner: the wake eventfd.
    void on_ready(Handle& h, std::uint32_t events) override;
    void on_flush(Handle&) override {}

  private:
    struct Callbacks;  // cnats's callbacks (its threads), in nats_engine.cc
    friend struct Callbacks;

    core::Status make_options();
    void enqueue(natsMsg* msg);
    void remember_dropped(const char* subject);
    void wake();
    void drain();
    void after_reconnect();
    void handle(natsMsg* msg);
    bool send(std::string_view group, std::span<const std::uint8_t> body, std::uint64_t seq,
              std::uint64_t prev, bool sync);
    void send_syncs();
    void subject_of(std::string_view group);

    HubOptions options_;
    OnPublish on_publish_;
    OnLost on_lost_;
    natsOptions* opts_ = nullptr;
    natsConnection* nc_ = nullptr;
    Handle wake_{this};
    std::string origin_text_;       // Herald-Origin's value
    std::string incarnation_text_;  // Herald-Incarnation's value
    std::uint64_t incarnation_ = 0;
    std::string subject_;  // scratch: the subject being built
    std::string group_;    // scratch: the group id being decoded
    core::StringMap<natsSubscription*> subs_;
    nats::SeqCounter out_seq_;
    nats::SeqTracker in_seq_;
    NatsCounters counters_;
    core::Nanos now_ = 0;          // as of the last tick
    core::Nanos next_forget_ = 0;  // when to forget idle seqs next
    bool sync_due_ = false;        // a publish failed: send syncs once connected

    // Shared with cnats's threads (under mu_, or atomic).
    std::mutex mu_;
    std::vector<natsMsg*> queue_;           // received, not yet read by the hub
    std::size_t queued_bytes_ = 0;          // their subjects and bodies
    std::vector<std::string> dropped_;      // subjects of messages dropped meanwhile
    bool dropped_all_ = false;              // more dropped than dropped_ holds
    bool closing_ = false;                  // the destructor runs: queue nothing
    std::uint64_t dropped_count_ = 0;       // messages dropped since the last drain
    std::vector<natsMsg*> taken_;           // the hub's side of the swap
    std::atomic<bool> reconnected_{false};  // cnats reconnected since the hub last looked
    std::atomic<std::uint64_t> disconnects_{0};
};

}  // namespace herald::channel::hub
