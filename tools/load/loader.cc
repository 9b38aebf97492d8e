#include "tools/load/loader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

#include "core/block.h"
#include "core/unmask.h"
#include "net/http_handshake.h"
#include "net/ws_frame.h"
#include "tools/load/load_tls.h"

namespace herald::load {
namespace {

constexpr std::size_t kReadBuffer = 256 * 1024;
constexpr std::uint32_t kMaxConnecting = 256;     // connects in flight at once
constexpr std::uint32_t kMaxChurnInFlight = 512;  // churn cycles in flight at once
constexpr core::Nanos kQuietForDrain = 300 * core::kMillisecond;

core::Nanos cpu_now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * core::kSecond +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * core::kMicrosecond;
}

template <class T>
bool parse_number(std::string_view& text, T& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end == text.data() + text.size() || *end != ':') return false;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
    return true;
}

}  // namespace

Loader::Loader(const LoadOptions& options, SharedView shared, std::uint32_t proc,
               std::uint32_t first, std::uint32_t count)
    : o_(options),
      shared_(shared),
      slot_(shared.slots[proc]),
      proc_(proc),
      first_(first),
      rbuf_(new std::uint8_t[kReadBuffer + core::Block::kPadding]),
      padding_(std::max<std::size_t>(options.size, 1), 'x') {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (o_.tls || o_.pub_tls) tls_ctx_ = make_client_ctx(o_.ca);
    std::mt19937 rng(proc * 7919 + first);
    for (std::uint32_t i = 0; i < count; ++i) {
        auto c = std::make_unique<Conn>();
        c->index = first + i;
        c->group = c->index % o_.groups;
        for (auto& m : c->mask) m = static_cast<std::uint8_t>(rng());
        // Publishers of this group: p = group, group + groups, ... below `publishers`.
        const std::uint32_t mine =
            c->group < o_.publishers ? (o_.publishers - 1 - c->group) / o_.groups + 1 : 0;
        if (o_.scenario != Scenario::kIdle) c->trackers.resize(mine);
        if (o_.scenario == Scenario::kLatency || o_.scenario == Scenario::kThroughput) {
            if (c->index < o_.publishers) c->publisher = c->index;
        }
        if (c->publisher >= 0) publishers_.push_back(c.get());
        if (c->index < o_.groups) leaders_.push_back(c.get());
        conns_.push_back(std::move(c));
    }
}

Loader::~Loader() {
    for (auto& c : conns_) {
        if (c->fd >= 0) close(c->fd);
    }
    for (auto& c : churn_) {
        if (c->fd >= 0) close(c->fd);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
    for (auto* list : {&conns_, &churn_}) {
        for (auto& c : *list) SSL_free(c->ssl);
    }
    SSL_CTX_free(tls_ctx_);
}

std::string Loader::group_name(std::uint32_t g) const { return "load-" + std::to_string(g); }

void Loader::start_connect(Conn& c) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ++failed_;
        c.state = ConnState::kDead;
        return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o_.source_ips) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = htonl(0x7F000002u + proc_);  // 127.0.0.(2 + proc)
        bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
    }
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(to_publish_url(c) ? o_.pub_port : o_.port);
    inet_pton(AF_INET, (to_publish_url(c) ? o_.pub_host : o_.host).c_str(), &dst.sin_addr);
    c.fd = fd;
    c.state = ConnState::kConnecting;
    ++connecting_;
    count_member(c);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
        --connecting_;
        kill(c, false);
        ++failed_;
    }
}

void Loader::on_event(Conn& c, std::uint32_t events) {
    if (c.state == ConnState::kConnecting) {
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
        --connecting_;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            ++failed_;
            return kill(c, false);
        }
        on_connected(c);
    }
    if (c.ssl != nullptr && !c.tls_ready) drive_tls(c);
    if (c.ssl != nullptr && !c.tls_ready) return;  // the TLS handshake waits for the socket
    if ((events & EPOLLOUT) != 0 && !c.out.empty()) flush_out(c);
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) on_readable(c);
}

void Loader::on_connected(Conn& c) {
    c.state = ConnState::kHandshake;
    if (to_publish_url(c) ? o_.pub_tls : o_.tls) {
        if (tls_ctx_ == nullptr) return fail_connect(c);
        c.ssl = make_session(tls_ctx_, c.fd, to_publish_url(c) ? o_.pub_host : o_.host);
        return drive_tls(c);
    }
    send_upgrade(c);
}

void Loader::drive_tls(Conn& c) {
    const TlsStep step = handshake(c.ssl);
    if (step == TlsStep::kPending) return;
    if (step == TlsStep::kFailed) return fail_connect(c);
    c.tls_ready = true;
    send_upgrade(c);
}

void Loader::fail_connect(Conn& c) {
    ++failed_;
    kill(c, false);
}

void Loader::send_upgrade(Conn& c) {
    const bool pub = to_publish_url(c);
    std::string request = "GET " + (pub ? o_.pub_path : o_.path) +
                          " HTTP/1.1\r\nHost: " + (pub ? o_.pub_host : o_.host) + ":" +
                          std::to_string(pub ? o_.pub_port : o_.port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: aGVyYWxkLWxvYWQta2V5IQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
    c.out += request;
    flush_out(c);
}

void Loader::flush_out(Conn& c) {
    while (!c.out.empty() && c.state != ConnState::kDead) {
        const ssize_t n = io_send(c.fd, c.ssl, c.out.data(), c.out.size());
        if (n > 0) {
            c.out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        return kill(c, true);
    }
}

void Loader::on_readable(Conn& c) {
    while (c.state == ConnState::kHandshake || c.state == ConnState::kOpen) {
        const ssize_t n = io_recv(c.fd, c.ssl, rbuf_.get(), kReadBuffer);
        if (n > 0) {
            received_at_ = core::now_ns();  // one clock read for every frame of this read
            handle_input(c, rbuf_.get(), static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        return kill(c, true);  // EOF or reset
    }
}

void Loader::handle_input(Conn& c, std::uint8_t* data, std::size_t n) {
    if (c.state == ConnState::kHandshake) {
        c.in.append(reinterpret_cast<const char*>(data), n);
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > 16384) kill(c, true);
            return;
        }
        if (!c.in.starts_with("HTTP/1.1 101")) {
            ++failed_;
            return kill(c, false);
        }
        c.state = ConnState::kOpen;
        ++open_;
        std::string rest = c.in.substr(end + 4);
        c.in.clear();
        if (c.churn) {
            send_command(c, "", "");  // join + publish, see send_command's churn form
        } else {
            scratch_ = R"({"cmd":"add_group","group_id":")" + group_name(c.group) + "\"}";
            send_frame(c, 0x1, scratch_);
        }
        if (!rest.empty()) {
            std::vector<std::uint8_t> copy(rest.begin(), rest.end());
            copy.resize(rest.size() + core::Block::kPadding);
            handle_input(c, copy.data(), rest.size());
        }
        return;
    }
    // Frames complete in `data` are handled in place; a tail waits in c.in.
    if (c.in.empty()) {
        std::size_t used = 0;
        handle_frames(c, data, n, used);
        if (used < n && c.state == ConnState::kOpen) {
            c.in.assign(reinterpret_cast<const char*>(data) + used, n - used);
        }
        return;
    }
    c.in.append(reinterpret_cast<const char*>(data), n);
    std::size_t used = 0;
    handle_frames(c, reinterpret_cast<std::uint8_t*>(c.in.data()), c.in.size(), used);
    if (c.state == ConnState::kOpen) c.in.erase(0, used);
}

void Loader::handle_frames(Conn& c, std::uint8_t* data, std::size_t n, std::size_t& used) {
    while (used < n && c.state == ConnState::kOpen) {
        net::FrameHeader h;
        const auto st = net::parse_header(data + used, n - used, h);
        if (st == net::HeaderStatus::kNeedMore) return;
        if (st == net::HeaderStatus::kBadLength || h.masked) return kill(c, true);
        if (n - used < h.header_size + h.payload_size) return;
        const std::string_view payload(reinterpret_cast<const char*>(data + used + h.header_size),
                                       h.payload_size);
        used += h.header_size + h.payload_size;
        switch (static_cast<net::Opcode>(h.opcode)) {
            case net::Opcode::kText:
                on_text(c, payload);
                break;
            case net::Opcode::kPing:
                send_frame(c, 0xA, payload);
                break;
            case net::Opcode::kClose:
                return kill(c, true);
            default:
                break;
        }
    }
}

void Loader::on_text(Conn& c, std::string_view text) {
    if (text.starts_with("{\"error\"")) {
        ++error_frames_;
        return;
    }
    if (text.starts_with("p:")) return on_probe(c, text);  // a membership probe
    if (text.starts_with("c:")) {  // churn: our own message came back; the cycle is done
        if (!c.churn) return;
        if (c.started >= measure_start_ && c.started < measure_end_) {
            latency_.record(received_at_ - c.started);
            ++cycles_;
        }
        return kill(c, false);
    }
    on_measure(c, text);
}

// "<publisher>:<seq>:<intended send ns>:<filler>"
void Loader::on_measure(Conn& c, std::string_view text) {
    std::uint64_t publisher = 0;
    std::uint32_t seq = 0;
    core::Nanos intended = 0;
    if (!parse_number(text, publisher) || !parse_number(text, seq) ||
        !parse_number(text, intended) || publisher >= o_.publishers ||
        publisher % o_.groups != c.group) {
        ++error_frames_;  // not something we sent to this group
        return;
    }
    const core::Nanos now = received_at_;
    ++delivered_;
    last_delivery_ = now;
    Tracker& t = c.trackers[publisher / o_.groups];
    if (seq == t.next) {
        ++t.next;
    } else if (seq > t.next) {
        for (std::uint32_t s = t.next; s < seq && t.missing.size() < 1'000'000; ++s) {
            t.missing.push_back(s);
        }
        t.next = seq + 1;
    } else {
        const auto it = std::find(t.missing.begin(), t.missing.end(), seq);
        if (it == t.missing.end()) {
            ++duplicates_;
            return;
        }
        t.missing.erase(it);
        ++reorders_;
    }
    if (intended >= measure_start_ && intended < measure_end_) {
        ++measured_deliveries_;
        latency_.record(now - intended);
    }
    if (c.publisher == static_cast<std::int64_t>(publisher) && c.in_flight > 0) --c.in_flight;
}

void Loader::send_frame(Conn& c, std::uint8_t opcode, std::string_view payload) {
    std::uint8_t head[net::kMaxClientHeader];
    const std::size_t h =
        net::encode_client_header(head, static_cast<net::Opcode>(opcode), payload.size(), c.mask);
    const bool direct = c.out.empty();
    std::string& buf = direct ? frame_ : c.out;
    const std::size_t at = direct ? 0 : buf.size();
    if (direct) buf.clear();
    buf.append(reinterpret_cast<const char*>(head), h);
    buf.append(payload);
    core::unmask(reinterpret_cast<std::uint8_t*>(buf.data() + at + h), payload.size(), c.mask);
    if (!direct) return;  // queued behind what the socket has not taken yet
    const ssize_t n = io_send(c.fd, c.ssl, buf.data(), buf.size());
    if (n == static_cast<ssize_t>(buf.size())) return;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return kill(c, true);
    c.out.assign(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
}

void Loader::send_command(Conn& c, std::string_view group, std::string_view message) {
    if (c.churn) {  // join a group of its own, then publish to it
        const std::string g = "churn-" + std::to_string(proc_) + "-" + std::to_string(c.index);
        scratch_ = R"({"cmd":"add_group","group_id":")" + g + "\"}";
        send_frame(c, 0x1, scratch_);
        scratch_ = R"({"cmd":"send_to_group","group_id":")" + g + R"(","message":"c:)" +
                   std::to_string(c.index) + "\"}";
        send_frame(c, 0x1, scratch_);
        return;
    }
    scratch_.clear();
    scratch_ += R"({"cmd":"send_to_group","group_id":")";
    scratch_ += group;
    scratch_ += R"(","message":")";
    scratch_ += message;
    scratch_ += "\"}";
    send_frame(c, 0x1, scratch_);
}

void Loader::publish(Conn& c, core::Nanos intended, core::Nanos now) {
    char head[64];
    const int n =
        std::snprintf(head, sizeof head, "%lld:%u:%lld:", static_cast<long long>(c.publisher),
                      c.seq, static_cast<long long>(intended));
    std::string message(head, static_cast<std::size_t>(n));
    if (message.size() < o_.size) message.append(padding_, 0, o_.size - message.size());
    send_command(c, group_name(c.group), message);
    ++c.seq;
    ++sent_;
    if (intended >= measure_start_ && intended < measure_end_) {
        ++measured_sent_;
        lateness_.record(now - intended);
    }
}

void Loader::kill(Conn& c, bool by_server) {
    if (c.state == ConnState::kDead) return;
    settle(c);  // a member that died unconfirmed is waited for no more
    if (c.state == ConnState::kOpen) {
        --open_;
        if (by_server && phase_ >= kRun && !c.churn) ++closed_;
    }
    if (c.state == ConnState::kConnecting) --connecting_;
    c.state = ConnState::kDead;
    SSL_free(std::exchange(c.ssl, nullptr));
    c.tls_ready = false;
    if (c.fd >= 0) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = -1;
    }
    c.in.clear();
    c.out.clear();
}

void Loader::tick_run(core::Nanos now) {
    if (now < t0_ || now >= measure_end_) return;
    for (Conn* c : publishers_) {
        if (c->state != ConnState::kOpen) continue;
        if (o_.scenario == Scenario::kLatency) {
            // Open loop: every scheduled send happens, late if need be, stamped with its
            // intended time (no coordinated omission).
            while (c->next_send <= now && c->next_send < measure_end_) {
                publish(*c, c->next_send, now);
                c->next_send += static_cast<core::Nanos>(1e9 * o_.publishers / o_.rate);
            }
        } else {
            // Closed loop: keep this publisher's share of the group's window in flight.
            const std::uint32_t per_group =
                (o_.publishers - c->group % o_.groups + o_.groups - 1) / o_.groups;
            const std::uint32_t window = std::max(1u, o_.window / std::max(1u, per_group));
            while (c->in_flight < window) {
                publish(*c, now, now);
                ++c->in_flight;
            }
        }
    }
}

void Loader::tick_churn(core::Nanos now) {
    if (now < t0_ || now >= measure_end_) return;
    const double per_proc = o_.rate / std::max<double>(1, o_.procs);
    const auto due = static_cast<std::uint64_t>(static_cast<double>(now - t0_) * per_proc / 1e9);
    std::erase_if(churn_,
                  [](const std::unique_ptr<Conn>& c) { return c->state == ConnState::kDead; });
    while (churn_started_ < due && churn_.size() < kMaxChurnInFlight) {
        auto c = std::make_unique<Conn>();
        c->churn = true;
        c->index = static_cast<std::uint32_t>(churn_started_++);
        c->started = now;
        for (auto& m : c->mask) m = static_cast<std::uint8_t>(c->index * 2654435761u >> 24);
        start_connect(*c);
        churn_.push_back(std::move(c));
    }
}

core::Nanos Loader::next_wakeup(core::Nanos now) const {
    core::Nanos next = now + core::kMillisecond;
    if (phase_ == kRun && o_.scenario == Scenario::kLatency) {
        for (const Conn* c : publishers_) {
            if (c->state == ConnState::kOpen && c->next_send < measure_end_) {
                next = std::min(next, c->next_send);
            }
        }
    }
    return std::max(next, now);
}

void Loader::update_status() {
    slot_.open.store(open_, std::memory_order_relaxed);
    slot_.confirmed.store(confirmed_, std::memory_order_relaxed);
    slot_.sent.store(sent_, std::memory_order_relaxed);
    slot_.delivered.store(delivered_ + cycles_, std::memory_order_relaxed);
    slot_.errors.store(error_frames_ + failed_ + closed_, std::memory_order_relaxed);
}

void Loader::write_report() {
    slot_.latency = latency_;
    slot_.lateness = lateness_;
    slot_.measured_deliveries = measured_deliveries_;
    slot_.measured_sent = measured_sent_;
    slot_.duplicates = duplicates_;
    slot_.reorders = reorders_;
    slot_.error_frames = error_frames_;
    slot_.failed_conns = failed_;
    slot_.closed_conns = closed_;
    slot_.cycles = cycles_;
    slot_.probes_sent = probes_sent_;
    std::uint64_t unconfirmed = 0;
    for (const auto& c : conns_) {
        if (c->state == ConnState::kOpen && !c->confirmed) ++unconfirmed;
        if (c->publisher >= 0) {
            shared_.publisher_sent[c->publisher].store(c->seq, std::memory_order_relaxed);
        }
        if (!c->confirmed) continue;  // never a member: it expects nothing
        for (std::size_t k = 0; k < c->trackers.size(); ++k) {
            const std::size_t p = c->group + k * o_.groups;
            const Tracker& t = c->trackers[k];
            shared_.publisher_unique[p].fetch_add(t.next - t.missing.size(),
                                                  std::memory_order_relaxed);
            shared_.publisher_receivers[p].fetch_add(1, std::memory_order_relaxed);
        }
    }
    slot_.unconfirmed = unconfirmed;
    update_status();
}

void Loader::set_status(std::uint32_t status) {
    if (status_ == status) return;
    status_ = status;
    slot_.status.store(status, std::memory_order_release);
}

// The coordinator moved to `phase`: take the run's clock, or start the drain.
void Loader::on_phase(std::uint32_t phase, core::Nanos now) {
    phase_ = phase;
    if (phase == kRun) {
        t0_ = shared_.header->t0.load(std::memory_order_relaxed);
        measure_start_ = shared_.header->measure_start.load(std::memory_order_relaxed);
        measure_end_ = shared_.header->measure_end.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < publishers_.size(); ++i) {
            // Stagger publishers over one sending interval.
            const double slot = static_cast<double>(publishers_[i]->publisher) / o_.rate;
            publishers_[i]->next_send = t0_ + static_cast<core::Nanos>(slot * 1e9);
        }
    }
    if (phase == kDrain) drain_until_ = now + o_.drain;
}

// One pass of the current phase's work; sets the status the coordinator waits for.
void Loader::tick(core::Nanos now) {
    switch (phase_) {
        case kConnect:
            while (connecting_ < kMaxConnecting && next_to_connect_ < conns_.size()) {
                start_connect(*conns_[next_to_connect_++]);
            }
            if (next_to_connect_ == conns_.size() && connecting_ == 0) {
                bool all_done = true;
                for (const auto& c : conns_)
                    all_done = all_done && c->state != ConnState::kHandshake;
                if (all_done) set_status(kJoined);
            }
            break;
        case kConfirm:
            tick_confirm(now);
            if (pending_ == 0) set_status(kConfirmed);
            break;
        case kRun:
            if (cpu_at_start_ < 0 && now >= measure_start_) cpu_at_start_ = cpu_now();
            if (cpu_at_start_ >= 0 && slot_.cpu_ns == 0 && now >= measure_end_) {
                slot_.cpu_ns = cpu_now() - cpu_at_start_;
            }
            if (o_.scenario == Scenario::kChurn) {
                tick_churn(now);
            } else {
                tick_run(now);
            }
            if (now >= measure_end_) set_status(kSent);
            break;
        case kDrain: {
            bool outstanding = o_.scenario == Scenario::kChurn && !churn_.empty();
            const bool quiet = now - last_delivery_ > kQuietForDrain && !outstanding;
            if (quiet || now >= drain_until_) set_status(kDrained);
            break;
        }
        default:
            break;
    }
}

int Loader::run() {
    epoll_event events[512];
    while (true) {
        const core::Nanos now = core::now_ns();
        const std::uint32_t phase = shared_.header->phase.load(std::memory_order_acquire);
        if (phase != phase_) on_phase(phase, now);
        if (phase_ == kReport || phase_ == kAbort) {
            write_report();
            slot_.status.store(kReported, std::memory_order_release);
            return 0;
        }
        tick(now);
        update_status();
        const core::Nanos wake = next_wakeup(now);
        timespec ts{static_cast<time_t>((wake - now) / core::kSecond),
                    static_cast<long>((wake - now) % core::kSecond)};
        const int n = epoll_pwait2(epoll_fd_, events, 512, &ts, nullptr);
        for (int i = 0; i < n; ++i) {
            on_event(*static_cast<Conn*>(events[i].data.ptr), events[i].events);
        }
    }
}

}  // namespace herald::load
