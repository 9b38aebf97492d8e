#include "net/send_queue.h"

namespace herald::net {

void SendNodePool::grow() {
    auto chunk = std::make_unique<SendNode[]>(kChunk);
    for (std::size_t i = 0; i < kChunk; ++i) put(&chunk[i]);
    chunks_.push_back(std::move(chunk));
}

std::size_t SendQueue::gather(iovec* iov, std::size_t max, std::size_t& total) const noexcept {
    std::size_t count = 0;
    total = 0;
    std::uint32_t skip = head_offset_;
    for (SendNode* n = head_; n != nullptr && count < max; n = n->next) {
        iov[count].iov_base = n->block->bytes() + skip;
        iov[count].iov_len = n->block->size - skip;
        total += iov[count].iov_len;
        skip = 0;
        ++count;
    }
    return count;
}

void SendQueue::consume(std::size_t n, SendNodePool& pool) noexcept {
    HERALD_DCHECK(n <= bytes_);
    bytes_ -= n;
    while (n > 0) {
        SendNode* h = head_;
        const std::size_t left = h->block->size - head_offset_;
        if (n < left) {
            head_offset_ += static_cast<std::uint32_t>(n);
            return;
        }
        n -= left;
        head_offset_ = 0;
        head_ = h->next;
        if (head_ == nullptr) tail_ = nullptr;
        h->block->unref();
        pool.put(h);
    }
}

void SendQueue::truncate(std::size_t keep, SendNodePool& pool) noexcept {
    SendNode** link = &head_;
    SendNode* last_kept = nullptr;
    for (std::size_t i = 0; i < keep && *link != nullptr; ++i) {
        last_kept = *link;
        link = &(*link)->next;
    }
    SendNode* n = *link;
    *link = nullptr;
    tail_ = last_kept;
    while (n != nullptr) {
        SendNode* next = n->next;
        bytes_ -= n->block->size;
        n->block->unref();
        pool.put(n);
        n = next;
    }
    if (head_ == nullptr) {  // the partly written head went too: nothing is owed
        head_offset_ = 0;
        bytes_ = 0;
    }
}

}  // namespace herald::net
