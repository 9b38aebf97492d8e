// The body of POST /publish judged: one message {"group_id":G,"message":M} or a batch
// {"messages":[{"group_id":G,"message":M},...]}, with the error answer when it is not valid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/command.h"

namespace herald::channel {

// One message to publish. Views point into the PublishJudge that produced them.
struct PublishItem {
    std::string_view group_id;  // decoded text (a JSON integer's decimal form)
    std::string_view message;   // decoded text
};

struct PublishBodyLimits {
    std::size_t max_message = 1 << 20;  // bytes of one decoded message (--max-message)
    std::size_t max_group_id = 128;     // bytes of one group id (--max-group-id)
    std::size_t max_batch = 1000;       // messages in one batch
};

// Judges publish bodies; reuses its buffers between bodies. Not thread-safe.
class PublishJudge {
  public:
    explicit PublishJudge(const PublishBodyLimits& limits);
    ~PublishJudge();
    PublishJudge(const PublishJudge&) = delete;
    PublishJudge& operator=(const PublishJudge&) = delete;

    // Judges `body`. Returns 0 and fills items() (one item for the single form, in order for a
    // batch; is_batch() tells which), or the status to answer with and error_json() its body:
    //   400 {"error":<net::ErrorCode name>,"detail":...} for the single form, as today's API;
    //   400 the same plus "index":N for the first faulty message of a batch, and
    //       {"error":"bad_field",...} when "messages" is not an array of 1..max_batch items;
    //   413 {"error":"message_too_big",...} (plus "index" in a batch) over max_message.
    // A batch is judged whole before anything is published: one fault, nothing is published.
    int judge(std::string_view body);

    const std::vector<PublishItem>& items() const noexcept { return items_; }
    bool is_batch() const noexcept { return batch_; }
    const std::string& error_json() const noexcept { return error_; }

  private:
    int judge_single(std::string_view body);
    int judge_batch();
    int judge_item(std::string_view text, std::size_t index);
    int fail(int status, std::string_view json, std::size_t index);

    struct Impl;
    std::unique_ptr<Impl> impl_;
    PublishBodyLimits limits_;
    net::CommandParser parser_;
    std::string padded_;                // the text parsed now, with simdjson's padding
    std::vector<std::string> storage_;  // group id and message of each batch item, in pairs
    std::vector<PublishItem> items_;
    std::string error_;
    bool batch_ = false;
};

}  // namespace herald::channel
