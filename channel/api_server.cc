#include "channel/api_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/block.h"

namespace herald::channel::hub {

ApiServer::ApiServer(const HubOptions& options, Poller& poller, ApiBackend& backend)
    : options_(options), poller_(poller), backend_(backend), parser_(options.max_group_id) {}

ApiServer::~ApiServer() {
    for (auto& c : conns_) {
        if (c->fd >= 0) close(c->fd);
    }
    if (listener_.fd >= 0) close(listener_.fd);
}

core::Status ApiServer::listen() {
    if (!options_.api_enabled) return {};
    return poller_.listen(listener_, options_.api_listen, "--api-listen");
}

void ApiServer::close_idle(core::Nanos now) {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (now - conns_[i]->last_active <= kApiIdle) continue;
        close_conn(*conns_[i]);  // moves the last connection to i
        --i;
    }
}

void ApiServer::on_ready(Handle& h, std::uint32_t events) {
    if (&h == &listener_) return accept_conns();
    auto& c = static_cast<ApiConn&>(h);
    if ((events & EPOLLOUT) != 0) write(c);
    if (!c.dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) read(c);
}

void ApiServer::close_conn(ApiConn& c) {
    poller_.close(c);
    poller_.retire(conns_, c);
}

void ApiServer::write(ApiConn& c) {
    const WriteResult r = poller_.write_out(c);
    if (r.status == WriteStatus::kFailed) return close_conn(c);
    if (r.status == WriteStatus::kDone && c.close_after) close_conn(c);
}

void ApiServer::accept_conns() {
    while (true) {
        const int fd = accept4(listener_.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        auto c = std::make_unique<ApiConn>(this);
        c->fd = fd;
        c->last_active = core::now_ns();
        poller_.add(*c, EPOLLIN);
        if (conns_.size() >= options_.max_api_conns) {
            c->out = api_response(503, api_error("busy", "too many API connections"), false);
            c->close_after = true;
            ++rejected_;
            ApiConn& conn = *c;
            conns_.push_back(std::move(c));
            write(conn);
            continue;
        }
        conns_.push_back(std::move(c));
    }
}

void ApiServer::read(ApiConn& c) {
    char buf[16384];
    while (true) {
        const ReadResult r = recv_some(c.fd, buf, sizeof buf);
        if (r.status == ReadStatus::kClosed || r.status == ReadStatus::kFailed) {
            return close_conn(c);
        }
        if (r.status == ReadStatus::kAgain) break;
        c.last_active = core::now_ns();
        if (c.close_after) continue;  // answered already: what follows is ignored
        c.in.append(buf, r.bytes);
        while (!c.close_after && serve(c)) {
        }
    }
    write(c);
}

// Answers the first complete request in c.in; false when there is none yet.
bool ApiServer::serve(ApiConn& c) {
    // A JSON body may escape every byte of a message as \u00XX: six bytes each.
    const std::size_t max_body = 6 * options_.max_message + 4096;
    ApiRequest request;
    if (parse_api_head(c.in, max_body, request) == ApiHead::kNeedMore) return false;
    if (request.status != 0) {
        ++rejected_;
        c.out += api_response(request.status, api_error("bad_request", request.reason), false);
        c.close_after = true;
        return false;
    }
    if (c.in.size() < request.head_length + request.content_length) return false;
    const std::string_view body(c.in.data() + request.head_length, request.content_length);
    const ApiReply reply = route(request, body);
    if (reply.status >= 400) ++rejected_;
    c.out += api_response(reply.status, reply.json, request.keep_alive);
    c.close_after = !request.keep_alive;
    c.in.erase(0, request.head_length + request.content_length);
    return true;
}

ApiReply ApiServer::route(const ApiRequest& request, std::string_view body) {
    if (request.target == "/publish") return handle_publish(request, body);
    if (request.target == "/stats") {
        if (request.method == "GET") return {200, backend_.stats()};
        return {405, api_error("method_not_allowed", "GET /stats")};
    }
    return {404, api_error("not_found", "the API serves POST /publish and GET /stats")};
}

ApiReply ApiServer::handle_publish(const ApiRequest& request, std::string_view body) {
    if (request.method != "POST") return {405, api_error("method_not_allowed", "POST /publish")};
    if (!options_.api_token.empty() && !same_secret(request.bearer, options_.api_token)) {
        return {401, api_error("unauthorized", "send Authorization: Bearer <the --api-token>")};
    }
    padded_.assign(body);
    padded_.resize(body.size() + core::Block::kPadding);
    const net::ParseResult parsed = parser_.parse_publish(
        std::span(reinterpret_cast<const std::uint8_t*>(padded_.data()), body.size()));
    if (parsed.error != net::ErrorCode::kNone) {
        return {400, std::string(net::error_json(parsed.error))};
    }
    const net::Command& cmd = parsed.command;
    if (cmd.message.size() > options_.max_message) {
        return {413, api_error("message_too_big", "message is over the server's --max-message")};
    }
    backend_.publish(
        cmd.group_id,
        std::span(reinterpret_cast<const std::uint8_t*>(cmd.message.data()), cmd.message.size()));
    ++publishes_;
    return {202, "{\"accepted\":true}"};
}

}  // namespace herald::channel::hub
