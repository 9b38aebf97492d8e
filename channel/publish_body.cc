#include "channel/publish_body.h"

#include <simdjson.h>

#include "channel/publish_api.h"
#include "core/block.h"

namespace herald::channel {

struct PublishJudge::Impl {
    simdjson::dom::parser dom;
    simdjson::dom::element root;  // the body just parsed, while judging it
};

PublishJudge::PublishJudge(const PublishBodyLimits& limits)
    : impl_(std::make_unique<Impl>()), limits_(limits), parser_(limits.max_group_id) {}

PublishJudge::~PublishJudge() = default;

int PublishJudge::judge(std::string_view body) {
    items_.clear();
    error_.clear();
    batch_ = false;
    padded_.assign(body);
    padded_.resize(body.size() + core::Block::kPadding);
    simdjson::dom::element& root = impl_->root;
    const bool is_object =
        impl_->dom.parse(padded_.data(), body.size(), false).get(root) == simdjson::SUCCESS &&
        root.is_object();
    if (is_object && root.at_key("messages").error() == simdjson::SUCCESS) {
        batch_ = true;
        return judge_batch();
    }
    return judge_single(body);
}

int PublishJudge::judge_single(std::string_view body) {
    const net::ParseResult parsed = parser_.parse_publish(
        std::span(reinterpret_cast<const std::uint8_t*>(padded_.data()), body.size()));
    if (parsed.error != net::ErrorCode::kNone) {
        error_.assign(net::error_json(parsed.error));
        return 400;
    }
    if (parsed.command.message.size() > limits_.max_message) {
        error_ = api_error("message_too_big", "message is over the server's --max-message");
        return 413;
    }
    items_.push_back({parsed.command.group_id, parsed.command.message});
    return 0;
}

// impl_->root holds the batch; each item is judged by the single-form rules.
int PublishJudge::judge_batch() {
    simdjson::dom::array list;
    if (impl_->root["messages"].get_array().get(list) != simdjson::SUCCESS || list.size() == 0 ||
        list.size() > limits_.max_batch) {
        error_ = api_error("bad_field", "messages must be an array of 1 to " +
                                            std::to_string(limits_.max_batch) + " objects");
        return 400;
    }
    std::vector<std::string> texts;
    texts.reserve(list.size());
    for (simdjson::dom::element e : list) texts.push_back(simdjson::minify(e));
    storage_.clear();
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (const int status = judge_item(texts[i], i); status != 0) return status;
    }
    for (std::size_t i = 0; i < storage_.size(); i += 2) {
        items_.push_back({storage_[i], storage_[i + 1]});
    }
    return 0;
}

int PublishJudge::judge_item(std::string_view text, std::size_t index) {
    padded_.assign(text);
    padded_.resize(text.size() + core::Block::kPadding);
    const net::ParseResult parsed = parser_.parse_publish(
        std::span(reinterpret_cast<const std::uint8_t*>(padded_.data()), text.size()));
    if (parsed.error != net::ErrorCode::kNone) {
        return fail(400, net::error_json(parsed.error), index);
    }
    if (parsed.command.message.size() > limits_.max_message) {
        return fail(413, api_error("message_too_big", "message is over the server's --max-message"),
                    index);
    }
    storage_.emplace_back(parsed.command.group_id);
    storage_.emplace_back(parsed.command.message);
    return 0;
}

// `json` is an object; the answer is the same object with "index":N added.
int PublishJudge::fail(int status, std::string_view json, std::size_t index) {
    error_.assign(json.substr(0, json.size() - 1));
    error_.append(",\"index\":").append(std::to_string(index)).append("}");
    storage_.clear();
    return status;
}

}  // namespace herald::channel
