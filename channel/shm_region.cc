#include "channel/shm_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

namespace herald::channel {
namespace {

constexpr std::uint64_t kRegionMagic = 0x68657261'6c64'7267;  // "herald" rg

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

}  // namespace

core::Result<ShmRegion> ShmRegion::create(std::uint32_t processes, std::uint64_t ring_capacity,
                                          std::uint32_t window_slots, std::size_t window_capacity) {
    const std::size_t slots = round_up(sizeof(ProcessSlot) * processes, kCacheLine);
    const std::size_t stride = round_up(ShmRing::footprint(ring_capacity, processes), kCacheLine);
    const std::size_t origins = sizeof(OriginSeq) * kMaxOrigins;
    window_slots = std::min(window_slots, kMaxOrigins);
    if (window_capacity == 0) window_slots = 0;
    const std::size_t windows = window_slots * window_slot_size(window_capacity);
    const std::size_t size =
        round_up(sizeof(RegionHeader) + slots + stride * processes + origins + windows, 4096);
    const int fd = memfd_create("herald-channel", MFD_CLOEXEC);
    if (fd < 0) {
        return core::Error{std::string("cannot create the shared-memory region (memfd_create): ") +
                           std::strerror(errno)};
    }
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        const int err = errno;
        close(fd);
        return core::Error{"cannot size the shared-memory region to " + std::to_string(size) +
                           " bytes: " + std::strerror(err) + " (lower --ring-size)"};
    }
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);  // the mapping keeps the memory alive
    if (base == MAP_FAILED) {
        return core::Error{std::string("cannot map the shared-memory region: ") +
                           std::strerror(errno) + " (lower --ring-size)"};
    }
    ShmRegion region;
    region.base_ = base;
    region.size_ = size;
    region.header_ = new (base) RegionHeader{kRegionMagic, processes, ring_capacity, {0}};
    region.slots_ =
        reinterpret_cast<ProcessSlot*>(static_cast<std::uint8_t*>(base) + sizeof(RegionHeader));
    for (std::uint32_t p = 0; p < processes; ++p) new (&region.slots_[p]) ProcessSlot{};
    region.ring_stride_ = stride;
    region.rings_ = static_cast<std::uint8_t*>(base) + sizeof(RegionHeader) + slots;
    for (std::uint32_t p = 0; p < processes; ++p) {
        ShmRing::create(region.rings_ + p * stride, ring_capacity, processes);
    }
    region.origins_ = reinterpret_cast<OriginSeq*>(region.rings_ + stride * processes);
    for (std::uint32_t i = 0; i < kMaxOrigins; ++i) new (&region.origins_[i]) OriginSeq{};
    region.windows_ = reinterpret_cast<std::uint8_t*>(region.origins_ + kMaxOrigins);
    region.window_slots_ = window_slots;
    region.window_capacity_ = window_capacity;
    for (std::uint32_t i = 0; i < window_slots; ++i) {
        new (region.windows_ + i * window_slot_size(window_capacity)) WindowSlotHeader{};
    }
    return region;
}

ShmRegion::ShmRegion(ShmRegion&& other) noexcept { *this = std::move(other); }

ShmRegion& ShmRegion::operator=(ShmRegion&& other) noexcept {
    std::swap(base_, other.base_);
    std::swap(size_, other.size_);
    std::swap(header_, other.header_);
    std::swap(slots_, other.slots_);
    std::swap(ring_stride_, other.ring_stride_);
    std::swap(rings_, other.rings_);
    std::swap(origins_, other.origins_);
    std::swap(windows_, other.windows_);
    std::swap(window_slots_, other.window_slots_);
    std::swap(window_capacity_, other.window_capacity_);
    return *this;
}

ShmRegion::~ShmRegion() {
    if (base_ != nullptr) munmap(base_, size_);
}

WindowMirror ShmRegion::window(std::uint32_t i) const noexcept {
    if (i >= window_slots_) return {};
    std::uint8_t* slot = windows_ + i * window_slot_size(window_capacity_);
    return WindowMirror(reinterpret_cast<WindowSlotHeader*>(slot), slot + sizeof(WindowSlotHeader),
                        window_capacity_);
}

ShmRing ShmRegion::ring(std::uint32_t p) const noexcept {
    HERALD_DCHECK(p < header_->processes);
    return ShmRing(rings_ + p * ring_stride_);
}

}  // namespace herald::channel
