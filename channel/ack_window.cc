#include "channel/ack_window.h"

#include "channel/cluster_frame.h"

namespace herald::channel::hub {

bool AckWindow::push_publish(std::uint32_t origin, std::string_view group,
                             std::span<const std::uint8_t> message, std::string* out) {
    const std::size_t need = publish_frame_size(group.size(), message.size());
    if (bytes() + need > limit_) {
        remember_lost(group);
        return false;
    }
    const std::size_t at = buf_.size();
    append_publish(buf_, origin, take_seq(), group, message);
    ++held_;
    appended_ += need;
    if (out != nullptr) out->append(buf_, at, need);
    return true;
}

void AckWindow::remember_lost(std::string_view group) {
    if (lost_all_) {
        ++lost_all_count_;
        return;
    }
    if (auto it = lost_.find(group); it != lost_.end()) {
        ++it->second;
        return;
    }
    if (lost_.size() < kMaxLostGroups) {
        lost_.emplace(std::string(group), 1);
        return;
    }
    // Past the bound: every group is reported (the counts so far are summed into it).
    lost_all_ = true;
    lost_all_count_ = 1;
    for (const auto& [g, count] : lost_) lost_all_count_ += count;
    lost_.clear();
}

void AckWindow::lose_everything() {
    if (!lost_all_) {
        lost_all_ = true;
        for (const auto& [g, count] : lost_) lost_all_count_ += count;
        lost_.clear();
    }
}

void AckWindow::push_check(std::string* out) {
    const std::size_t at = buf_.size();
    append_lost(buf_, take_seq(), 0, {}, kLostCheck);
    ++held_;
    appended_ += buf_.size() - at;
    if (out != nullptr) out->append(buf_, at, buf_.size() - at);
}

std::size_t AckWindow::push_lost(std::string* out) {
    const std::size_t at = buf_.size();
    std::size_t frames = 0;
    if (lost_all_) {
        append_lost(buf_, take_seq(), lost_all_count_, {}, kLostAll);
        ++frames;
    }
    for (const auto& [group, count] : lost_) {
        append_lost(buf_, take_seq(), count, group, 0);
        ++frames;
    }
    lost_.clear();
    lost_all_ = false;
    lost_all_count_ = 0;
    held_ += frames;
    appended_ += buf_.size() - at;
    if (out != nullptr) out->append(buf_, at, buf_.size() - at);
    return frames;
}

void AckWindow::restore(std::string frames, std::uint64_t next_seq, std::uint64_t acked,
                        std::uint64_t appended) {
    buf_ = std::move(frames);
    head_ = 0;
    held_ = 0;
    FrameWalker walker(buf_);
    while (walker.next().status == FrameStatus::kFrame) ++held_;
    next_seq_ = next_seq;
    acked_ = acked;
    appended_ = appended;
    lost_.clear();
    lost_all_ = false;
    lost_all_count_ = 0;
}

std::size_t AckWindow::ack(std::uint64_t seq) {
    if (!seq_after(seq, acked_) || !seq_after(next_seq_, seq)) return 0;
    FrameWalker walker(frames());
    std::size_t dropped = 0;
    for (FrameCut cut = walker.next(); cut.status == FrameStatus::kFrame; cut = walker.next()) {
        if (seq_after(frame_seq(cut.frame), seq)) break;
        head_ += cut.size;
        ++dropped;
    }
    held_ -= dropped;
    acked_ = seq;
    if (head_ == buf_.size()) {
        buf_.clear();
        head_ = 0;
    } else if (head_ > 65536 && head_ * 2 > buf_.size()) {
        buf_.erase(0, head_);
        head_ = 0;
    }
    return dropped;
}

}  // namespace herald::channel::hub
