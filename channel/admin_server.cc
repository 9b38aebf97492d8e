#include "channel/admin_server.h"

#include <microhttpd.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "channel/publish_api.h"
#include "net/endpoint.h"

namespace herald::channel {
namespace {

enum class Route : std::uint8_t { kPublish, kStats, kMetrics, kHealthz, kReadyz, kUnknown };

// RFC 9112 §3.2.2: a server accepts the absolute-form "http://authority/path" and uses its
// path. MHD has already removed the query string (§3.2: it is not part of the route here).
std::string_view path_of(std::string_view url) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (url.size() >= scheme.size() &&
            strncasecmp(url.data(), scheme.data(), scheme.size()) == 0) {
            const std::size_t slash = url.find('/', scheme.size());
            return slash == std::string_view::npos ? std::string_view("/") : url.substr(slash);
        }
    }
    return url;
}

Route route_of(std::string_view path) {
    if (path == "/publish") return Route::kPublish;
    if (path == "/stats") return Route::kStats;
    if (path == "/metrics") return Route::kMetrics;
    if (path == "/healthz") return Route::kHealthz;
    if (path == "/readyz") return Route::kReadyz;
    return Route::kUnknown;
}

MHD_Result count_host(void* cls, MHD_ValueKind, const char* key, const char*) {
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) ++*static_cast<int*>(cls);
    return MHD_YES;
}

// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host and for any request with several.
const char* host_fault(MHD_Connection* c, std::string_view version) {
    int hosts = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, &count_host, &hosts);
    if (hosts > 1) return "more than one Host header";
    if (hosts == 0 && version == MHD_HTTP_VERSION_1_1) return "HTTP/1.1 needs a Host header";
    return nullptr;
}

// "Authorization: Bearer <token>" (RFC 6750 §2.1; the scheme is case-insensitive).
std::string_view bearer_of(MHD_Connection* c) {
    const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    std::string_view value = v == nullptr ? std::string_view() : std::string_view(v);
    if (value.size() <= 7 || strncasecmp(value.data(), "bearer ", 7) != 0) return {};
    value.remove_prefix(7);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value;
}

// The Content-Length header's value, or -1 when absent or not a number (MHD judged it).
long long content_length_of(MHD_Connection* c) {
    const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (v == nullptr) return -1;
    long long n = -1;
    const std::string_view s(v);
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

// Whether the request has a body to read (RFC 9112 §6.3: Transfer-Encoding or a non-zero
// Content-Length).
bool has_body(MHD_Connection* c) {
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        return true;
    }
    return content_length_of(c) != -1 && content_length_of(c) != 0;
}

std::string unavailable_json(const std::size_t* accepted) {
    std::string json =
        "{\"error\":\"unavailable\",\"detail\":\"the hub cannot publish now; retry\"";
    if (accepted != nullptr) json.append(",\"accepted\":").append(std::to_string(*accepted));
    return json + "}";
}

}  // namespace

// One TCP connection, for the request deadline.
struct AdminServer::Conn {
    Conn* prev = nullptr;
    Conn* next = nullptr;
    int fd = -1;
    core::Nanos started = 0;  // accepted, or the previous answer sent
    bool shut = false;        // shut down at the deadline; MHD frees it next
};

// One POST /publish whose body is being read.
struct AdminServer::Request {
    bool head_pending = false;  // no body: the head is judged at the second call
    std::string body;
    bool too_big = false;  // the body passed max_body: read on and discarded, then 413
};

// Routes requests, judges heads and bodies, and queues the answers.
class AdminServer::Dispatch {
  public:
    explicit Dispatch(AdminServer& s) : s_(s), body_(s.options_.body) {}

    // Judges a complete head: answers it, or sets `read_body` (POST /publish accepted so far).
    MHD_Result head(MHD_Connection* c, std::string_view url, std::string_view method,
                    std::string_view version, bool& read_body);
    MHD_Result body(MHD_Connection* c, Request& r);
    MHD_Result answer(MHD_Connection* c, unsigned status, std::string_view body,
                      const char* type = "application/json");

  private:
    MHD_Result not_allowed(MHD_Connection* c, const char* allow);
    MHD_Result get(MHD_Connection* c, Route route);
    MHD_Result publish(MHD_Connection* c);

    AdminServer& s_;
    PublishJudge body_;
    const char* allow_ = nullptr;  // the Allow header of the answer being queued (405)
};

// RFC 9110 §15.5.6: a 405 names the methods the target supports.
MHD_Result AdminServer::Dispatch::not_allowed(MHD_Connection* c, const char* allow) {
    allow_ = allow;
    const MHD_Result queued = answer(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                     api_error("method_not_allowed", std::string(allow) + " only"));
    allow_ = nullptr;
    return queued;
}

MHD_Result AdminServer::Dispatch::answer(MHD_Connection* c, unsigned status, std::string_view body,
                                         const char* type) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    if (r == nullptr) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    if (allow_ != nullptr) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow_);
    const MHD_Result queued = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    ++s_.counters_.requests;
    if (status >= 400) ++s_.counters_.rejected;
    return queued;
}

MHD_Result AdminServer::Dispatch::head(MHD_Connection* c, std::string_view url,
                                       std::string_view method, std::string_view version,
                                       bool& read_body) {
    if (const char* why = host_fault(c, version)) {
        return answer(c, MHD_HTTP_BAD_REQUEST, api_error("bad_request", why));
    }
    const Route route = route_of(path_of(url));
    if (route == Route::kUnknown) {
        return answer(c, MHD_HTTP_NOT_FOUND,
                      api_error("not_found",
                                "the API serves POST /publish, GET /stats, "
                                "/metrics, /healthz and /readyz"));
    }
    const bool is_get = method == MHD_HTTP_METHOD_GET || method == MHD_HTTP_METHOD_HEAD;
    if (route != Route::kPublish) {
        return is_get ? get(c, route) : not_allowed(c, "GET, HEAD");
    }
    if (method != MHD_HTTP_METHOD_POST) return not_allowed(c, "POST");
    if (!s_.options_.token.empty() && !same_secret(bearer_of(c), s_.options_.token)) {
        return answer(c, MHD_HTTP_UNAUTHORIZED,
                      api_error("unauthorized", "send Authorization: Bearer <the --api-token>"));
    }
    if (content_length_of(c) > static_cast<long long>(s_.options_.max_body)) {
        return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, api_error("too_big", "body over the limit"));
    }
    read_body = true;
    return MHD_YES;  // MHD sends 100 Continue now if the client asked for it
}

MHD_Result AdminServer::Dispatch::get(MHD_Connection* c, Route route) {
    switch (route) {
        case Route::kStats:
            return answer(c, MHD_HTTP_OK, s_.handler_.stats_json());
        case Route::kMetrics:
            return answer(c, MHD_HTTP_OK, s_.handler_.metrics_text(),
                          "text/plain; version=0.0.4; charset=utf-8");
        case Route::kHealthz:
            return answer(c, MHD_HTTP_OK, "{\"ok\":true}");
        case Route::kReadyz: {
            const ReadyState state = s_.handler_.ready();
            return answer(c, state.ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, state.json);
        }
        default:
            return answer(c, MHD_HTTP_NOT_FOUND, api_error("not_found", ""));
    }
}

MHD_Result AdminServer::Dispatch::body(MHD_Connection* c, Request& r) {
    if (r.too_big) {
        return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, api_error("too_big", "body over the limit"));
    }
    if (const int status = body_.judge(r.body); status != 0) {
        return answer(c, static_cast<unsigned>(status), body_.error_json());
    }
    return publish(c);
}

MHD_Result AdminServer::Dispatch::publish(MHD_Connection* c) {
    const auto& items = body_.items();
    std::size_t accepted = 0;
    PublishOutcome outcome = PublishOutcome::kAccepted;
    if (body_.is_batch()) {
        const BatchOutcome b = s_.handler_.publish_batch(items);
        outcome = b.outcome;
        accepted = std::min(b.accepted, items.size());
    } else {
        outcome = s_.handler_.publish(items[0].group_id, items[0].message);
        accepted = outcome == PublishOutcome::kAccepted ? 1 : 0;
    }
    s_.counters_.published += accepted;
    const std::size_t* in_batch = body_.is_batch() ? &accepted : nullptr;
    switch (outcome) {
        case PublishOutcome::kAccepted:
            return answer(c, MHD_HTTP_ACCEPTED,
                          in_batch ? "{\"accepted\":" + std::to_string(accepted) + "}"
                                   : std::string("{\"accepted\":true}"));
        case PublishOutcome::kTooBig:
            return answer(c, MHD_HTTP_CONTENT_TOO_LARGE,
                          api_error("message_too_big", "message is over the server's limit"));
        case PublishOutcome::kUnavailable:
            break;
    }
    return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, unavailable_json(in_batch));
}

// ---- MHD's callbacks ---------------------------------------------------------------------

// The C callbacks MHD calls, forwarding to the server given as their closure.
struct AdminServer::Callbacks {
    static MHD_Result request(void* cls, MHD_Connection* c, const char* url, const char* method,
                              const char* version, const char* upload, std::size_t* upload_size,
                              void** request) {
        return static_cast<MHD_Result>(static_cast<AdminServer*>(cls)->on_request(
            c, url, method, version, upload, upload_size, request));
    }
    static void completed(void* cls, MHD_Connection* c, void** request,
                          MHD_RequestTerminationCode) {
        static_cast<AdminServer*>(cls)->on_completed(c, request);
    }
    static void connection(void* cls, MHD_Connection* c, void** socket_context,
                           MHD_ConnectionNotificationCode code) {
        static_cast<AdminServer*>(cls)->on_connection(c, socket_context, code);
    }
};

AdminServer::AdminServer(const AdminOptions& options, AdminHandler& handler)
    : options_(options), handler_(handler) {
    if (options_.max_body == 0) options_.max_body = 6 * options_.body.max_message + 4096;
    dispatch_ = std::make_unique<Dispatch>(*this);
}

AdminServer::~AdminServer() {
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);  // closes the listener and connections
}

core::Status AdminServer::start() {
    auto endpoint = net::parse_endpoint(options_.listen);
    if (!endpoint)
        return core::Error{"--admin-listen " + options_.listen + ": " + endpoint.error()};
    auto fd = net::listen_on(*endpoint, net::ListenOptions{.reuse_port = false, .backlog = 128});
    if (!fd) return core::Error{"--admin-listen " + options_.listen + ": " + fd.error()};
    const unsigned flags = MHD_USE_EPOLL;
    daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Callbacks::request, this, MHD_OPTION_LISTEN_SOCKET, *fd,
        MHD_OPTION_CONNECTION_LIMIT, options_.max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        options_.max_conns_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, options_.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, options_.connection_memory, MHD_OPTION_NOTIFY_COMPLETED,
        &Callbacks::completed, this, MHD_OPTION_NOTIFY_CONNECTION, &Callbacks::connection, this,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_END);
    if (daemon_ == nullptr) {
        close(*fd);
        return core::Error{"--admin-listen " + options_.listen +
                           ": libmicrohttpd did not start (out of memory or descriptors?)"};
    }
    port_ = endpoint->port();
    return {};
}

int AdminServer::epoll_fd() const noexcept {
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    return info == nullptr ? -1 : info->epoll_fd;
}

int AdminServer::timeout_ms() const noexcept {
    long long ms = -1;
    MHD_UNSIGNED_LONG_LONG mhd = 0;
    if (MHD_get_timeout(daemon_, &mhd) == MHD_YES) {
        ms = static_cast<long long>(std::min<MHD_UNSIGNED_LONG_LONG>(mhd, INT32_MAX));
    }
    const core::Nanos now = core::now_ns();
    for (const Conn* c = conns_; c != nullptr; c = c->next) {
        if (c->shut) continue;
        const core::Nanos left = c->started + options_.request_deadline - now;
        const long long left_ms =
            left <= 0 ? 0 : (left + core::kMillisecond - 1) / core::kMillisecond;
        if (ms < 0 || left_ms < ms) ms = left_ms;
    }
    return static_cast<int>(std::min<long long>(ms, INT32_MAX));
}

void AdminServer::run() noexcept {
    MHD_run(daemon_);
    const std::uint64_t before = counters_.deadline_closes;
    sweep_deadlines(core::now_ns());
    if (counters_.deadline_closes != before) MHD_run(daemon_);  // frees what was shut down
}

// shutdown(2) rather than close(2): the descriptor stays MHD's until it sees the end of
// stream and closes it itself.
void AdminServer::sweep_deadlines(core::Nanos now) noexcept {
    for (Conn* c = conns_; c != nullptr; c = c->next) {
        if (c->shut || now - c->started < options_.request_deadline) continue;
        shutdown(c->fd, SHUT_RDWR);
        c->shut = true;
        ++counters_.deadline_closes;
    }
}

void AdminServer::on_connection(MHD_Connection* c, void** socket_context, int code) noexcept {
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        auto* conn = new Conn;
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn->fd = info == nullptr ? -1 : info->connect_fd;
        conn->started = core::now_ns();
        conn->next = conns_;
        if (conns_ != nullptr) conns_->prev = conn;
        conns_ = conn;
        *socket_context = conn;
        ++counters_.open_connections;
        return;
    }
    auto* conn = static_cast<Conn*>(*socket_context);
    if (conn == nullptr) return;
    if (conn->prev != nullptr) conn->prev->next = conn->next;
    if (conn->next != nullptr) conn->next->prev = conn->prev;
    if (conns_ == conn) conns_ = conn->next;
    delete conn;
    *socket_context = nullptr;
    --counters_.open_connections;
}

// An answer was sent (or the request ended): the connection's next request starts now.
void AdminServer::on_completed(MHD_Connection* c, void** request) noexcept {
    delete static_cast<Request*>(*request);
    *request = nullptr;
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info != nullptr && info->socket_context != nullptr) {
        static_cast<Conn*>(info->socket_context)->started = core::now_ns();
    }
}

// MHD calls this once when the head is complete (*request null), then once per piece of body
// (*upload_size > 0), then once more at the end of the body (*upload_size == 0).
int AdminServer::on_request(MHD_Connection* c, const char* url, const char* method,
                            const char* version, const char* upload, std::size_t* upload_size,
                            void** request) noexcept {
    bool read_body = false;
    if (*request == nullptr) {
        // MHD 0.9.75 closes the connection after an answer queued in this first call, so a
        // request without a body is answered at the next call, keeping the connection.
        if (!has_body(c)) {
            auto* r = new Request;
            r->head_pending = true;
            *request = r;
            return MHD_YES;
        }
        const MHD_Result answered = dispatch_->head(c, url, method, version, read_body);
        if (read_body) *request = new Request;
        return answered;
    }
    Request& r = *static_cast<Request*>(*request);
    if (r.head_pending) {
        r.head_pending = false;
        const MHD_Result answered = dispatch_->head(c, url, method, version, read_body);
        return read_body ? dispatch_->body(c, r) : answered;
    }
    if (*upload_size != 0) {
        if (!r.too_big && r.body.size() + *upload_size <= options_.max_body) {
            r.body.append(upload, *upload_size);
        } else {
            r.too_big = true;  // read on and drop; answered 413 at the end
            std::string().swap(r.body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch_->body(c, r);
}

}  // namespace herald::channel
