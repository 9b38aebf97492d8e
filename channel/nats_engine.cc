// Techniques: the callback thread takes the queue's lock only to push a pointer and writes the
// eventfd only when the queue was empty; the hub swaps the whole queue out under the lock and
// handles it outside; a group's subject is built in one reused string.
#include "channel/nats_engine.h"

#include <nats/nats.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <random>

#include "net/log.h"

namespace herald::channel::hub {
namespace {

constexpr std::size_t kMaxDroppedGroups = 1024;           // beyond: every group is reported
constexpr core::Nanos kSeqIdle = 600 * core::kSecond;     // a publisher forgets a group's seq
constexpr core::Nanos kTrackIdle = 1200 * core::kSecond;  // a receiver forgets an origin's
constexpr core::Nanos kForgetEvery = 10 * core::kSecond;

std::string status_text(natsStatus s) { return natsStatus_GetText(s); }

// The decimal value of header `name` of `msg`; false when absent or not a number.
bool header_number(natsMsg* msg, const char* name, std::uint64_t& out) {
    const char* v = nullptr;
    if (natsMsgHeader_Get(msg, name, &v) != NATS_OK || v == nullptr) return false;
    const std::string_view text(v);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

struct NatsEngine::Callbacks {
    static void message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
        static_cast<NatsEngine*>(self)->enqueue(msg);
    }
    static void reconnected(natsConnection*, void* self) {
        auto* e = static_cast<NatsEngine*>(self);
        e->reconnected_.store(true, std::memory_order_release);
        e->wake();
    }
    static void disconnected(natsConnection*, void* self) {
        static_cast<NatsEngine*>(self)->disconnects_.fetch_add(1, std::memory_order_relaxed);
    }
    static void connected(natsConnection*, void*) {}
    // A subscription fell behind inside cnats (slow consumer): its messages were dropped.
    static void error(natsConnection*, natsSubscription* sub, natsStatus err, void* self) {
        if (sub == nullptr || err != NATS_SLOW_CONSUMER) return;
        auto* e = static_cast<NatsEngine*>(self);
        {
            std::lock_guard lock(e->mu_);
            e->remember_dropped(natsSubscription_GetSubject(sub));
        }
        e->wake();
    }
};

NatsEngine::NatsEngine(const HubOptions& options, OnPublish on_publish, OnLost on_lost)
    : options_(options), on_publish_(std::move(on_publish)), on_lost_(std::move(on_lost)) {
    std::random_device rd;
    incarnation_ = (static_cast<std::uint64_t>(rd()) << 32 | rd()) | 1;
    origin_text_ = std::to_string(options_.node_id);
    incarnation_text_ = std::to_string(incarnation_);
}

NatsEngine::~NatsEngine() {
    {
        std::lock_guard lock(mu_);
        closing_ = true;  // what cnats still delivers is freed at once
        for (natsMsg* m : queue_) natsMsg_Destroy(m);
        queue_.clear();
    }
    for (auto& [group, sub] : subs_) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    if (nc_ != nullptr) {
        natsConnection_Close(nc_);
        natsConnection_Destroy(nc_);
    }
    if (opts_ != nullptr) natsOptions_Destroy(opts_);
    // Every NATS object is destroyed: cnats's threads (delivery pool, reconnect, callbacks)
    // end before this object does, so none calls back into it afterwards. One engine per hub
    // process, so closing the library is ours to do.
    if (nc_ != nullptr) nats_CloseAndWait(2000);
    if (wake_.fd >= 0) close(wake_.fd);
}

core::Status NatsEngine::make_options() {
    if (natsOptions_Create(&opts_) != NATS_OK) return core::Error{"nats: out of memory"};
    std::vector<const char*> urls;
    bool tls = false;
    for (const std::string& u : options_.nats_urls) {
        urls.push_back(u.c_str());
        tls = tls || u.starts_with("tls://");
    }
    const std::string name = "herald-hub-" + origin_text_;
    natsStatus s = natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size()));
    // The order given is the order tried: a host's own NATS server first.
    if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts_, true);
    if (s == NATS_OK) s = natsOptions_SetName(opts_, name.c_str());
    if (s == NATS_OK) s = natsOptions_SetNoEcho(opts_, true);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts_, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts_, 250);
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectBufSize(opts_, static_cast<int>(options_.nats_buffer));
    }
    if (s == NATS_OK) s = natsOptions_SetPingInterval(opts_, 5000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts_, 2);
    if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts_, true);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts_, Callbacks::reconnected, this);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts_, Callbacks::disconnected, this);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts_, Callbacks::error, this);
    if (s == NATS_OK) {
        s = natsOptions_SetRetryOnFailedConnect(opts_, true, Callbacks::connected, this);
    }
    if (s == NATS_OK && tls) s = natsOptions_SetSecure(opts_, true);
    if (s != NATS_OK) return core::Error{"nats: options: " + status_text(s)};
    if (!options_.nats_ca.empty()) {
        s = natsOptions_LoadCATrustedCertificates(opts_, options_.nats_ca.c_str());
        if (s != NATS_OK) return core::Error{"--nats-ca: " + status_text(s)};
    }
    if (!options_.nats_creds.empty()) {
        s = natsOptions_SetUserCredentialsFromFiles(opts_, options_.nats_creds.c_str(), nullptr);
        if (s != NATS_OK) return core::Error{"--nats-creds: " + status_text(s)};
    }
    return {};
}

core::Status NatsEngine::start(Poller& poller) {
    wake_.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_.fd < 0) return core::Error{"nats: eventfd failed"};
    poller.add(wake_, EPOLLIN);
    if (core::Status s = make_options(); !s) return s;
    const natsStatus s = natsConnection_Connect(&nc_, opts_);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        return core::Error{"nats: connect: " + status_text(s) + " " + nats_GetLastError(nullptr)};
    }
    net::log_event(net::LogLevel::kInfo, "nats_connecting", "urls=%zu connected=%s",
                   options_.nats_urls.size(), s == NATS_OK ? "true" : "false");
    return {};
}

// ---- cnats's threads -----------------------------------------------------------------------

void NatsEngine::wake() {
    const std::uint64_t one = 1;
    (void)!write(wake_.fd, &one, sizeof one);
}

void NatsEngine::enqueue(natsMsg* msg) {
    const std::size_t bytes = static_cast<std::size_t>(natsMsg_GetDataLength(msg)) + 64;
    bool was_empty = false;
    {
        std::lock_guard lock(mu_);
        if (closing_) {
            natsMsg_Destroy(msg);
            return;
        }
        if (queued_bytes_ + bytes > options_.nats_buffer) {
            remember_dropped(natsMsg_GetSubject(msg));
            was_empty = true;  // wake the hub to report it (a spurious wake is harmless)
            natsMsg_Destroy(msg);
        } else {
            was_empty = queue_.empty();
            queue_.push_back(msg);
            queued_bytes_ += bytes;
        }
    }
    if (was_empty) wake();
}

// Under mu_.
void NatsEngine::remember_dropped(const char* subject) {
    ++dropped_count_;
    if (dropped_all_ || subject == nullptr) {
        dropped_all_ = true;
        return;
    }
    if (dropped_.size() >= kMaxDroppedGroups) {
        dropped_all_ = true;
        dropped_.clear();
        return;
    }
    dropped_.emplace_back(subject);
}

// ---- the hub's thread ----------------------------------------------------------------------

void NatsEngine::on_ready(Handle& h, std::uint32_t) {
    std::uint64_t v;
    (void)!read(h.fd, &v, sizeof v);
    drain();
}

void NatsEngine::drain() {
    // Before the messages: a gap they show is then reported once, with the reconnection.
    if (reconnected_.exchange(false, std::memory_order_acq_rel)) after_reconnect();
    std::vector<std::string> dropped;
    bool dropped_all = false;
    {
        std::lock_guard lock(mu_);
        taken_.swap(queue_);
        queued_bytes_ = 0;
        if (dropped_count_ != 0) {
            counters_.dropped_in += dropped_count_;
            dropped_count_ = 0;
            dropped.swap(dropped_);
            dropped_all = dropped_all_;
            dropped_all_ = false;
        }
    }
    for (natsMsg* m : taken_) {
        handle(m);
        natsMsg_Destroy(m);
    }
    taken_.clear();
    if (dropped_all) {
        on_lost_({});
    } else {
        const std::string_view prefix = options_.nats_prefix;
        for (const std::string& subject : dropped) {
            if (std::string_view(subject).starts_with(prefix) &&
                nats::decode_group_token(std::string_view(subject).substr(prefix.size()), group_))
                on_lost_(group_);
        }
    }
}

void NatsEngine::handle(natsMsg* msg) {
    const std::string_view subject = natsMsg_GetSubject(msg);
    const std::string_view prefix = options_.nats_prefix;
    std::uint64_t origin = 0, incarnation = 0, seq = 0, prev = 0;
    const char* sync_value = nullptr;
    const bool sync = natsMsgHeader_Get(msg, nats::kSyncHeader, &sync_value) == NATS_OK;
    if (!subject.starts_with(prefix) ||
        !nats::decode_group_token(subject.substr(prefix.size()), group_) ||
        group_.size() > options_.max_group_id || !header_number(msg, nats::kOriginHeader, origin) ||
        origin == 0 || origin > UINT32_MAX ||
        !header_number(msg, nats::kIncarnationHeader, incarnation) ||
        !header_number(msg, nats::kSeqHeader, seq) || seq == 0 ||
        (!sync && !header_number(msg, nats::kPrevHeader, prev)) ||
        static_cast<std::size_t>(natsMsg_GetDataLength(msg)) > options_.max_message) {
        ++counters_.bad_messages;
        return;
    }
    if (origin == options_.node_id || !subs_.contains(group_)) return;  // echo, or unsubscribed
    const nats::Verdict v = in_seq_.observe(group_, static_cast<std::uint32_t>(origin), incarnation,
                                            seq, prev, sync, now_);
    if (v == nats::Verdict::kStale) {
        ++counters_.stale;
        return;
    }
    if (v == nats::Verdict::kGap) {
        ++counters_.gaps;
        on_lost_(group_);
    }
    if (sync) return;
    const auto* data = reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg));
    const std::size_t len = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
    ++counters_.msgs_in;
    counters_.bytes_in += len;
    on_publish_(group_, {data, len});
}

void NatsEngine::subject_of(std::string_view group) {
    subject_.assign(options_.nats_prefix);
    nats::append_group_token(subject_, group);
}

bool NatsEngine::send(std::string_view group, std::span<const std::uint8_t> body, std::uint64_t seq,
                      std::uint64_t prev, bool sync) {
    subject_of(group);
    char seq_text[24];
    char prev_text[24];
    *std::to_chars(seq_text, seq_text + 23, seq).ptr = '\0';
    *std::to_chars(prev_text, prev_text + 23, prev).ptr = '\0';
    natsMsg* msg = nullptr;
    natsStatus s =
        natsMsg_Create(&msg, subject_.c_str(), nullptr, reinterpret_cast<const char*>(body.data()),
                       static_cast<int>(body.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, nats::kOriginHeader, origin_text_.c_str());
    if (s == NATS_OK)
        s = natsMsgHeader_Set(msg, nats::kIncarnationHeader, incarnation_text_.c_str());
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, nats::kSeqHeader, seq_text);
    if (s == NATS_OK && !sync) s = natsMsgHeader_Set(msg, nats::kPrevHeader, prev_text);
    if (s == NATS_OK && sync) s = natsMsgHeader_Set(msg, nats::kSyncHeader, "1");
    if (s == NATS_OK) s = natsConnection_PublishMsg(nc_, msg);
    natsMsg_Destroy(msg);
    if (s != NATS_OK) {
        ++counters_.publish_errors;
        sync_due_ = true;
        return false;
    }
    return true;
}

void NatsEngine::publish(std::string_view group, std::span<const std::uint8_t> message) {
    const nats::SeqCounter::Issued seq = out_seq_.next(group, now_);
    if (!send(group, message, seq.seq, seq.prev, false)) return;
    ++counters_.msgs_out;
    counters_.bytes_out += message.size();
}

// Every remembered group's last seq: a receiver that missed any of them sees the gap now.
void NatsEngine::send_syncs() {
    sync_due_ = false;
    for (const auto& [group, last] : out_seq_.groups()) {
        if (!send(group, {}, last.first, 0, true)) return;  // still failing: sync_due_ again
        ++counters_.syncs_out;
    }
}

void NatsEngine::subscribe(std::string_view group) {
    if (subs_.contains(group)) return;
    subject_of(group);
    natsSubscription* sub = nullptr;
    const natsStatus s =
        natsConnection_Subscribe(&sub, nc_, subject_.c_str(), Callbacks::message, this);
    if (s != NATS_OK) {
        ++counters_.subscribe_errors;
        on_lost_(group);  // its members would hear nothing: they are closed instead
        return;
    }
    subs_.emplace(std::string(group), sub);
}

void NatsEngine::unsubscribe(std::string_view group) {
    const auto it = subs_.find(group);
    if (it == subs_.end()) return;
    natsSubscription_Unsubscribe(it->second);
    natsSubscription_Destroy(it->second);
    subs_.erase(it);
    in_seq_.forget(group);
}

// After cnats reconnected. While the connection was down, publishes to this host's groups were
// not delivered to it, and nothing tells which: every member is closed (1013) rather than left
// with a silent hole. Then this hub's own last seqs go out (syncs), for the receivers of
// publishes that died with the old connection.
void NatsEngine::after_reconnect() {
    ++counters_.reconnects;
    if (!subs_.empty()) {
        ++counters_.lost_all;
        on_lost_({});
    }
    net::log_event(net::LogLevel::kWarn, "nats_reconnected", "url=\"%s\" groups=%zu",
                   connected_url().c_str(), subs_.size());
    sync_due_ = true;
}

void NatsEngine::tick(core::Nanos now) {
    now_ = now;
    if (reconnected_.load(std::memory_order_acquire)) drain();
    if (sync_due_ && connected()) send_syncs();
    if (now >= next_forget_) {
        next_forget_ = now + kForgetEvery;
        out_seq_.forget_idle(now, kSeqIdle);
        in_seq_.forget_idle(now, kTrackIdle);
    }
}

bool NatsEngine::connected() const {
    return nc_ != nullptr && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

// Without the user:password@ or token@ a URL may carry.
std::string NatsEngine::connected_url() const {
    char buf[512] = "";
    if (nc_ == nullptr || natsConnection_GetConnectedUrl(nc_, buf, sizeof buf) != NATS_OK)
        return {};
    std::string url = buf;
    const std::size_t scheme = url.find("://");
    const std::size_t at = url.find('@');
    if (scheme != std::string::npos && at != std::string::npos && at > scheme)
        url.erase(scheme + 3, at + 1 - (scheme + 3));
    // What JSON and label values may not hold as they are.
    std::erase_if(url, [](char c) { return c == '"' || c == '\\' || c < ' '; });
    return url;
}

void NatsEngine::append_stats(std::string& out) const {
    auto field = [&out](const char* name, std::uint64_t v) {
        out.append(",\"").append(name).append("\":").append(std::to_string(v));
    };
    out.append(",\"nats\":{\"connected\":").append(connected() ? "true" : "false");
    out.append(",\"server\":\"").append(connected_url()).append("\"");
    field("subscriptions", subs_.size());
    const NatsCounters& c = counters_;
    field("msgs_in", c.msgs_in);
    field("bytes_in", c.bytes_in);
    field("msgs_out", c.msgs_out);
    field("bytes_out", c.bytes_out);
    field("publish_errors", c.publish_errors);
    field("gaps", c.gaps);
    field("stale", c.stale);
    field("dropped_in", c.dropped_in);
    field("bad_messages", c.bad_messages);
    field("reconnects", c.reconnects);
    field("disconnects", disconnects_.load(std::memory_order_relaxed));
    field("lost_all", c.lost_all);
    field("syncs_out", c.syncs_out);
    field("subscribe_errors", c.subscribe_errors);
    out.append("}");
}

void NatsEngine::append_metrics(net::MetricsText& m) const {
    using T = net::MetricType;
    const NatsCounters& c = counters_;
    const std::string url = connected_url();
    const net::Label server[] = {{"server", url}};
    m.begin("herald_nats_connected", "1 while the hub's NATS connection is up", T::kGauge);
    m.sample("herald_nats_connected", server, std::uint64_t{connected() ? 1u : 0u});
    struct Row {
        const char* name;
        const char* help;
        T type;
        std::uint64_t value;
    };
    const Row rows[] = {
        {"herald_nats_subscriptions", "group subjects this hub subscribes to", T::kGauge,
         subs_.size()},
        {"herald_nats_messages_in_total", "messages from NATS put on the rings", T::kCounter,
         c.msgs_in},
        {"herald_nats_bytes_in_total", "bytes of the messages from NATS put on the rings",
         T::kCounter, c.bytes_in},
        {"herald_nats_messages_out_total", "messages published to NATS", T::kCounter, c.msgs_out},
        {"herald_nats_bytes_out_total", "bytes of the messages published to NATS", T::kCounter,
         c.bytes_out},
        {"herald_nats_publish_errors_total", "publishes the NATS client refused", T::kCounter,
         c.publish_errors},
        {"herald_nats_gaps_total", "seq gaps seen (group members closed 1013)", T::kCounter,
         c.gaps},
        {"herald_nats_stale_total", "messages with a seq already seen", T::kCounter, c.stale},
        {"herald_nats_dropped_in_total", "received messages dropped, queue full", T::kCounter,
         c.dropped_in},
        {"herald_nats_bad_messages_total", "messages without valid herald headers", T::kCounter,
         c.bad_messages},
        {"herald_nats_reconnects_total", "reconnections to NATS", T::kCounter, c.reconnects},
        {"herald_nats_syncs_out_total", "sync messages published", T::kCounter, c.syncs_out},
    };
    for (const Row& r : rows) {
        m.begin(r.name, r.help, r.type);
        m.sample(r.name, {}, r.value);
    }
}

}  // namespace herald::channel::hub
