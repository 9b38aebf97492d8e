#include "net/send_queue.h"

#include <algorithm>
#include <functional>

namespace herald::net {

void SendNodePool::grow() {
    auto chunk = std::make_unique<SendNode[]>(kChunk);
    for (std::size_t i = 0; i < kChunk; ++i) {
        chunk[i].next = free_;
        free_ = &chunk[i];
    }
    chunks_.push_back(std::move(chunk));
}

void SendNodePool::trim(std::size_t keep_nodes) {
    // Nothing to free (and nothing allocated) while the chunks are what keep_nodes needs.
    if (chunks_.size() * kChunk < std::max(keep_nodes, out_) + kChunk) return;
    // Chunks by address, so a free node finds its chunk by binary search.
    std::vector<std::unique_ptr<SendNode[]>> sorted = std::move(chunks_);
    chunks_.clear();
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return std::less<const SendNode*>{}(a.get(), b.get());
    });
    const auto chunk_of = [&sorted](const SendNode* n) {
        const auto after =
            std::upper_bound(sorted.begin(), sorted.end(), n, [](const SendNode* p, const auto& c) {
                return std::less<const SendNode*>{}(p, c.get());
            });
        return static_cast<std::size_t>(after - sorted.begin()) - 1;
    };
    std::vector<std::uint32_t> free_in(sorted.size(), 0);
    for (const SendNode* n = free_; n != nullptr; n = n->next) ++free_in[chunk_of(n)];
    // Chunks with a node in use stay; then whole free ones, until keep_nodes fit.
    std::size_t capacity = 0;
    for (const std::uint32_t f : free_in) capacity += f != kChunk ? kChunk : 0;
    for (std::uint32_t& f : free_in) {
        if (f == kChunk && capacity < keep_nodes) {
            f = 0;  // kept (any value but kChunk)
            capacity += kChunk;
        }
    }
    // Rebuild the free list from the chunks that stay (a node in use keeps its chunk).
    SendNode* kept = nullptr;
    for (SendNode* n = free_; n != nullptr;) {
        SendNode* next = n->next;
        if (free_in[chunk_of(n)] != kChunk) {
            n->next = kept;
            kept = n;
        }
        n = next;
    }
    free_ = kept;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        if (free_in[i] != kChunk) chunks_.push_back(std::move(sorted[i]));
    }
    chunks_.shrink_to_fit();
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
    bytes_ -= static_cast<std::uint32_t>(n);
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
