// The hub process: its loop (epoll: a handful of peer links and API connections, where
// io_uring's batching buys nothing), the workers' rings, interest, and the publish API.
//
// Techniques: the rings are read like a worker reads them (RecordSink); bytes for a socket are
// appended to its `out` and written once per loop pass; a closed handle is freed only after the
// batch of events that may still name it.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "channel/hub_internal.h"
#include "net/command.h"
#include "net/ws_frame.h"

namespace herald::channel {
namespace hub {

constexpr core::Nanos kTick = 50 * core::kMillisecond;
constexpr core::Nanos kApiIdle = 30 * core::kSecond;  // an API connection silent this long goes

Hub::Hub(const HubOptions& options, const ShmRegion& region, std::uint32_t self,
         std::vector<int> wake_fds, const RelayOptions& relay)
    : options_(options),
      self_(self),
      relay_(region, self, std::move(wake_fds), relay),
      parser_(options.max_group_id),
      worker_interest_(region.processes()) {
    for (const net::Endpoint& e : options_.peers) {
        Dial d;
        d.endpoint = e;
        d.text = e.to_string();
        d.backoff = options_.redial_min;
        if (options_.cluster_enabled && d.text == options_.cluster_listen.to_string()) {
            d.passive = "this hub";
        }
        dials_.push_back(std::move(d));
    }
}

Hub::~Hub() {
    for (auto& l : links_) {
        if (l->fd >= 0) close(l->fd);
    }
    for (auto& a : api_) {
        if (a->fd >= 0) close(a->fd);
    }
    for (Handle* h : {&cluster_listener_, &api_listener_, &signal_}) {
        if (h->fd >= 0) close(h->fd);
    }
    if (epoll_fd_ >= 0) close(epoll_fd_);
}

void Hub::watch(Handle& h, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &h;
    epoll_ctl(epoll_fd_, op, h.fd, &ev);
}

// A non-blocking listener on `at` watched by epoll; "" or why not (naming `flag`).
std::string Hub::listen(Handle& listener, net::Endpoint& at, const char* flag) {
    auto fd = net::listen_on(at, net::ListenOptions{.reuse_port = false, .backlog = 128});
    if (!fd) return std::string("hub: ") + flag + ": " + fd.error();
    listener.fd = *fd;
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    watch(listener, EPOLLIN, EPOLL_CTL_ADD);
    return "";
}

std::string Hub::start() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return std::string("epoll_create1: ") + std::strerror(errno);
    if (options_.cluster_enabled) {
        if (std::string err =
                listen(cluster_listener_, options_.cluster_listen, "--cluster-listen");
            !err.empty()) {
            return err;
        }
    }
    if (options_.api_enabled) {
        if (std::string err = listen(api_listener_, options_.api_listen, "--api-listen");
            !err.empty()) {
            return err;
        }
    }
    wake_.fd = relay_.wake_fd();
    watch(wake_, EPOLLIN, EPOLL_CTL_ADD);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    watch(signal_, EPOLLIN, EPOLL_CTL_ADD);
    relay_.attach();
    return "";
}

int Hub::run(std::atomic<std::uint32_t>& ready) {
    ready.store(1, std::memory_order_release);
    // Whatever the workers joined before this hub (re)started: they announce it again.
    relay_.announce_resync();
    relay_.flush();
    core::Nanos next_tick = 0;
    epoll_event events[64];
    while (!stopping_) {
        const bool busy = relay_.poll_into(*this);
        core::Nanos now = core::now_ns();
        if (now >= next_tick) {
            on_tick(now);
            next_tick = now + kTick;
        }
        flush_dirty();
        relay_.flush();

        int timeout = 0;
        bool slept = false;
        if (!busy) {
            const core::Nanos spin_until = now + relay_.spin_ns();
            while (!relay_.pending() && core::now_ns() < spin_until) {
            }
            if (!relay_.pending() && relay_.prepare_to_sleep()) {
                slept = true;
                timeout = static_cast<int>((next_tick - now) / core::kMillisecond) + 1;
            }
        }
        const int n = epoll_wait(epoll_fd_, events, 64, timeout);
        if (slept) relay_.woke();
        for (int i = 0; i < n; ++i) {
            auto* h = static_cast<Handle*>(events[i].data.ptr);
            if (!h->dead) handle_event(h, events[i].events);
        }
        flush_dirty();  // before the graveyard goes: dirty_ may name a closed handle
        graveyard_.clear();
    }
    // Stopping: what is queued for peers goes out if the socket takes it now.
    for (auto& l : links_) {
        if (!l->dead && l->out_off < l->out.size()) write_out(*l);
    }
    return 0;
}

void Hub::handle_event(Handle* h, std::uint32_t events) {
    switch (h->kind) {
        case Kind::kClusterListener:
            accept_links();
            return;
        case Kind::kApiListener:
            accept_api();
            return;
        case Kind::kWake: {
            // One read takes the whole count (the eventfd is shared and blocking: read once,
            // only when epoll says it is readable).
            std::uint64_t v;
            (void)!read(h->fd, &v, sizeof v);
            return;
        }
        case Kind::kSignal: {
            signalfd_siginfo info;
            while (read(h->fd, &info, sizeof info) == sizeof info) stopping_ = true;
            return;
        }
        case Kind::kLink: {
            auto& link = static_cast<Link&>(*h);
            if (link.connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) return close_link(link, std::string("connect: ") + strerror(err));
                link.connecting = false;
                watch(link, EPOLLIN, EPOLL_CTL_MOD);
                link.want_write = false;
                const std::uint32_t node =
                    link.dial >= 0 ? dials_[static_cast<std::size_t>(link.dial)].node : 0;
                append_hello(link.out, options_.node_id, options_.cluster, hello_flags(node));
                write_out(link);
                return;
            }
            if ((events & EPOLLOUT) != 0) write_out(link);
            if (!link.dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) read_link(link);
            return;
        }
        case Kind::kApi: {
            auto& c = static_cast<ApiConn&>(*h);
            if ((events & EPOLLOUT) != 0) write_out(c);
            if (!c.dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) read_api(c);
            return;
        }
    }
}

void Hub::on_tick(core::Nanos now) {
    tick_links(now);
    for (std::size_t i = 0; i < api_.size(); ++i) {
        if (now - api_[i]->last_active <= kApiIdle) continue;
        close_handle(*api_[i]);  // moves the last connection to i
        --i;
    }
}

// ---- sockets: writing and closing ---------------------------------------------------------

void Hub::mark_dirty(Handle& h) {
    if (h.dirty || h.out_off == h.out.size()) return;
    h.dirty = true;
    dirty_.push_back(&h);
}

void Hub::flush_dirty() {
    // write_out() may close a handle, never add one: the list does not grow meanwhile.
    for (Handle* h : dirty_) {
        h->dirty = false;
        if (!h->dead) write_out(*h);
    }
    dirty_.clear();
}

void Hub::write_out(Handle& h) {
    const std::size_t before = h.out_off;
    while (h.out_off < h.out.size()) {
        const ssize_t n =
            send(h.fd, h.out.data() + h.out_off, h.out.size() - h.out_off, MSG_NOSIGNAL);
        if (n > 0) {
            h.out_off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (h.kind == Kind::kLink) {
            close_link(static_cast<Link&>(h), std::string("send: ") + std::strerror(errno));
        } else {
            close_handle(h);
        }
        return;
    }
    if (h.kind == Kind::kLink) {
        auto& link = static_cast<Link&>(h);
        // Count the frames now wholly in the kernel's hands.
        std::uint64_t frames = 0;
        std::uint32_t len = 0;
        while (link.out_frame + kFrameHeaderSize <= link.out_off) {
            std::memcpy(&len, link.out.data() + link.out_frame, sizeof len);
            if (link.out_frame + kFrameHeaderSize + len > link.out_off) break;
            link.out_frame += kFrameHeaderSize + len;
            ++frames;
        }
        if (link.hello) {
            Peer& peer = peers_[link.node];
            peer.frames_out += frames;
            peer.bytes_out += h.out_off - before;
        }
    }
    const bool pending = h.out_off < h.out.size();
    if (!pending) {
        h.out.clear();
        h.out_off = 0;
        if (h.kind == Kind::kLink) static_cast<Link&>(h).out_frame = 0;
        if (h.kind == Kind::kLink && static_cast<Link&>(h).closing) {
            return close_link(static_cast<Link&>(h), "rejected (the lower node id dials)");
        }
        if (h.kind == Kind::kApi && static_cast<ApiConn&>(h).close_after) return close_handle(h);
    } else if (h.kind == Kind::kLink && h.out_off > (1u << 20) && h.out_off * 2 > h.out.size()) {
        // Keep `out` from growing: drop what was written (up to a frame boundary).
        auto& link = static_cast<Link&>(h);
        link.out.erase(0, link.out_frame);
        link.out_off -= link.out_frame;
        link.out_frame = 0;
    }
    if (pending != h.want_write) {
        h.want_write = pending;
        watch(h, EPOLLIN | (pending ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
    }
}

void Hub::close_handle(Handle& h) {
    if (h.dead) return;
    h.dead = true;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, h.fd, nullptr);
    close(h.fd);
    h.fd = -1;
    auto take = [&](auto& list) {
        for (auto& p : list) {
            if (p.get() != &h) continue;
            graveyard_.push_back(std::move(p));
            p = std::move(list.back());
            list.pop_back();
            return;
        }
    };
    if (h.kind == Kind::kLink) take(links_);
    if (h.kind == Kind::kApi) take(api_);
}

// ---- the workers' rings -------------------------------------------------------------------

bool Hub::wants(std::string_view group) {
    for (const auto& [node, peer] : peers_) {
        if (peer.interest.contains(group)) return true;
    }
    ++local_publishes_;
    ++unrouted_;
    return false;
}

void Hub::deliver(std::uint32_t, std::string_view group, core::Block* frame) {
    ++local_publishes_;
    forward(group, net::frame_payload(frame));
}

void Hub::interest(std::uint32_t from, std::string_view group, bool joined) {
    core::StringSet& mine = worker_interest_[from];
    if (joined) {
        if (mine.insert(std::string(group)).second) local_interest(group, +1);
    } else if (auto it = mine.find(group); it != mine.end()) {
        mine.erase(it);
        local_interest(group, -1);
    }
}

void Hub::reset(std::uint32_t from) {
    core::StringSet groups = std::move(worker_interest_[from]);
    worker_interest_[from].clear();
    for (const std::string& g : groups) local_interest(g, -1);
}

// A group's count of workers with members changed: peers hear of its first and last.
void Hub::local_interest(std::string_view group, int delta) {
    auto it = interest_.find(group);
    if (delta > 0) {
        if (it == interest_.end()) {
            interest_.emplace(std::string(group), 1);
            send_to_linked(FrameType::kSubscribe, group);
        } else {
            ++it->second;
        }
        return;
    }
    if (it == interest_.end()) return;
    if (--it->second == 0) {
        interest_.erase(it);
        send_to_linked(FrameType::kUnsubscribe, group);
    }
}

// ---- the publish API ----------------------------------------------------------------------

void Hub::accept_api() {
    while (true) {
        const int fd = accept4(api_listener_.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        auto c = std::make_unique<ApiConn>();
        c->fd = fd;
        c->last_active = core::now_ns();
        watch(*c, EPOLLIN, EPOLL_CTL_ADD);
        if (api_.size() >= options_.max_api_conns) {
            c->out = api_response(503, api_error("busy", "too many API connections"), false);
            c->close_after = true;
            ++api_rejected_;
            write_out(*c);
            if (!c->dead) api_.push_back(std::move(c));
            continue;
        }
        api_.push_back(std::move(c));
    }
}

void Hub::read_api(ApiConn& c) {
    char buf[16384];
    while (true) {
        const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close_handle(c);
        if (n < 0) break;
        c.last_active = core::now_ns();
        if (c.close_after) continue;  // answered already: what follows is ignored
        c.in.append(buf, static_cast<std::size_t>(n));
        while (!c.close_after && serve_api(c)) {
        }
        if (c.dead) return;
    }
    write_out(c);
}

// Answers the first complete request in c.in; false when there is none yet.
bool Hub::serve_api(ApiConn& c) {
    // A JSON body may escape every byte of a message as \u00XX: six bytes each.
    const std::size_t max_body = 6 * options_.max_message + 4096;
    ApiRequest request;
    if (parse_api_head(c.in, max_body, request) == ApiHead::kNeedMore) return false;
    if (request.status != 0) {
        ++api_rejected_;
        c.out += api_response(request.status, api_error("bad_request", request.reason), false);
        c.close_after = true;
        return false;
    }
    if (c.in.size() < request.head_length + request.content_length) return false;
    const std::string_view body(c.in.data() + request.head_length, request.content_length);
    int status = 200;
    std::string json;
    if (request.target == "/publish") {
        json = handle_publish(request, body, status);
    } else if (request.target == "/stats") {
        if (request.method == "GET") {
            json = render_stats();
        } else {
            status = 405;
            json = api_error("method_not_allowed", "GET /stats");
        }
    } else {
        status = 404;
        json = api_error("not_found", "the API serves POST /publish and GET /stats");
    }
    if (status >= 400) ++api_rejected_;
    c.out += api_response(status, json, request.keep_alive);
    c.close_after = !request.keep_alive;
    c.in.erase(0, request.head_length + request.content_length);
    return true;
}

std::string Hub::handle_publish(const ApiRequest& request, std::string_view body, int& status) {
    if (request.method != "POST") {
        status = 405;
        return api_error("method_not_allowed", "POST /publish");
    }
    if (!options_.api_token.empty() && !same_secret(request.bearer, options_.api_token)) {
        status = 401;
        return api_error("unauthorized", "send Authorization: Bearer <the --api-token>");
    }
    padded_.assign(body);
    padded_.resize(body.size() + core::Block::kPadding);
    const net::ParseResult parsed = parser_.parse_publish(
        std::span(reinterpret_cast<const std::uint8_t*>(padded_.data()), body.size()));
    if (parsed.error != net::ErrorCode::kNone) {
        status = 400;
        return std::string(net::error_json(parsed.error));
    }
    const net::Command& cmd = parsed.command;
    if (cmd.message.size() > options_.max_message) {
        status = 413;
        return api_error("message_too_big", "message is over the server's --max-message");
    }
    const std::span message(reinterpret_cast<const std::uint8_t*>(cmd.message.data()),
                            cmd.message.size());
    relay_.publish(cmd.group_id, message);  // this host's workers
    forward(cmd.group_id, message);         // the other hosts that have members
    ++api_publishes_;
    status = 202;
    return "{\"accepted\":true}";
}

}  // namespace hub

int run_hub(const HubOptions& options, const ShmRegion& region, std::uint32_t self,
            std::vector<int> wake_fds, const RelayOptions& relay,
            std::atomic<std::uint32_t>& ready) {
    hub::Hub hub(options, region, self, std::move(wake_fds), relay);
    if (std::string err = hub.start(); !err.empty()) {
        std::fprintf(stderr, "herald: %s\n", err.c_str());
        return 1;
    }
    return hub.run(ready);
}

}  // namespace herald::channel
