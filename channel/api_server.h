// The hub's publish API over HTTP/1.1 (POST /publish, GET /stats): its listener, its
// connections and their requests (judged by channel/publish_api.h). What a request asks of the
// hub crosses one narrow seam, ApiBackend, so the HTTP side can be replaced whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "channel/hub_options.h"
#include "channel/poller.h"
#include "channel/publish_api.h"
#include "core/clock.h"
#include "net/command.h"

namespace herald::channel::hub {

// What the publish API asks of the hub.
class ApiBackend {
  public:
    // A publish the API accepted (token, JSON and limits checked): `message` for `group`, to
    // this host's workers and the peers that want it.
    virtual void publish(std::string_view group, std::span<const std::uint8_t> message) = 0;
    // The JSON object GET /stats answers with.
    virtual std::string stats() = 0;

  protected:
    ~ApiBackend() = default;
};

// One connection to the publish API.
struct ApiConn : Handle {
    explicit ApiConn(HandleOwner* o) : Handle(o) {}
    std::string in;               // the request being received
    bool close_after = false;     // close once `out` is written
    core::Nanos last_active = 0;  // when bytes last arrived (idle ones are closed)
};

// An answer: HTTP status and JSON body.
struct ApiReply {
    int status = 200;
    std::string json;
};

constexpr core::Nanos kApiIdle = 30 * core::kSecond;  // an API connection silent this long goes

class ApiServer final : public HandleOwner {
  public:
    // Takes the API fields of `options` (api_listen, api_token, max_api_conns, max_message,
    // max_group_id); `poller` and `backend` outlive the server.
    ApiServer(const HubOptions& options, Poller& poller, ApiBackend& backend);
    ~ApiServer();  // closes every connection and the listener
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Listens on --api-listen (when the API is enabled); an error is one line.
    core::Status listen();
    // Closes connections silent for over kApiIdle at `now`.
    void close_idle(core::Nanos now);

    std::uint64_t publishes() const noexcept { return publishes_; }  // accepted POST /publish
    std::uint64_t rejected() const noexcept { return rejected_; }    // answered 4xx/5xx
    std::size_t connections() const noexcept { return conns_.size(); }
    // Where it listens (the port the kernel picked, after listen()).
    const net::Endpoint& endpoint() const noexcept { return options_.api_listen; }
    // A new --api-token and --max-message (SIGHUP reload), for the requests read from now on.
    void set_limits(const std::string& api_token, std::uint64_t max_message) {
        options_.api_token = api_token;
        options_.max_message = max_message;
    }

    // HandleOwner: the listener and the connections.
    void on_ready(Handle& h, std::uint32_t events) override;
    void on_flush(Handle& h) override { write(static_cast<ApiConn&>(h)); }

  private:
    void accept_conns();
    void read(ApiConn& c);
    bool serve(ApiConn& c);
    ApiReply route(const ApiRequest& request, std::string_view body);
    ApiReply handle_publish(const ApiRequest& request, std::string_view body);
    void write(ApiConn& c);
    void close_conn(ApiConn& c);

    HubOptions options_;
    Poller& poller_;
    ApiBackend& backend_;
    net::CommandParser parser_;  // POST /publish bodies
    std::string padded_;         // a body + simdjson padding
    Handle listener_{this};
    std::vector<std::unique_ptr<ApiConn>> conns_;  // every open connection
    std::uint64_t publishes_ = 0;
    std::uint64_t rejected_ = 0;
};

}  // namespace herald::channel::hub
