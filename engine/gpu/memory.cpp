#include "gpu/memory.h"

#include <algorithm>

#include "gpu/context.h"
#include "gpu/error.h"

namespace moevk::gpu {
namespace {

VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a) { return (v + a - 1) / a * a; }

std::string mib(VkDeviceSize bytes) {
    return std::to_string(bytes >> 20) + " MiB (" + std::to_string(bytes) + " bytes)";
}

}  // namespace

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        if (arena_) arena_->release(block_, offset_, size_);
        arena_ = other.arena_;
        block_ = other.block_;
        handle_ = other.handle_;
        offset_ = other.offset_;
        size_ = other.size_;
        address_ = other.address_;
        mapped_ = other.mapped_;
        other.arena_ = nullptr;
    }
    return *this;
}

Buffer::~Buffer() {
    if (arena_) arena_->release(block_, offset_, size_);
}

Arena::Arena(Context& ctx, MemoryKind kind, VkDeviceSize block_bytes)
    : ctx_(ctx), kind_(kind), block_bytes_(std::min<VkDeviceSize>(block_bytes, ctx.info().max_allocation_size)) {}

Arena::~Arena() {
    for (Block& b : blocks_) destroy_block(b);
}

VkDeviceSize Arena::bytes_reserved() const {
    std::lock_guard<std::mutex> guard(lock_);
    VkDeviceSize total = 0;
    for (const Block& b : blocks_) total += b.size;
    return total;
}

size_t Arena::create_block(VkDeviceSize bytes, bool dedicated, const std::string& what) {
    const VolkDeviceTable& vk = ctx_.vk();
    if (bytes > ctx_.info().max_allocation_size)
        throw Error(ErrorCode::OutOfMemory, what + ": " + mib(bytes) +
                                                " exceeds the device's maxMemoryAllocationSize of " +
                                                mib(ctx_.info().max_allocation_size));
    Block block;
    block.size = bytes;
    block.dedicated = dedicated;

    VkBufferCreateInfo buffer_info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    buffer_info.size = bytes;
    buffer_info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                        VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT |
                        VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT;
    // With a dedicated transfer queue, uploads land through one family and shaders read through
    // the other; concurrent sharing keeps the contents defined without ownership transfers.
    uint32_t families[2] = {ctx_.compute_queue().family, ctx_.transfer_queue().family};
    if (ctx_.has_dedicated_transfer_queue() && families[0] != families[1]) {
        buffer_info.sharingMode = VK_SHARING_MODE_CONCURRENT;
        buffer_info.queueFamilyIndexCount = 2;
        buffer_info.pQueueFamilyIndices = families;
    } else {
        buffer_info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    }
    MOEVK_VK_CHECK(vk.vkCreateBuffer(ctx_.device(), &buffer_info, nullptr, &block.buffer));

    VkMemoryRequirements req;
    vk.vkGetBufferMemoryRequirements(ctx_.device(), block.buffer, &req);
    VkMemoryPropertyFlags required = kind_ == MemoryKind::Host
                                         ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                         : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    VkMemoryPropertyFlags preferred = kind_ == MemoryKind::Host ? VK_MEMORY_PROPERTY_HOST_CACHED_BIT : 0;
    uint32_t type = 0;
    try {
        type = ctx_.memory_type(req.memoryTypeBits, required, preferred);
    } catch (...) {
        vk.vkDestroyBuffer(ctx_.device(), block.buffer, nullptr);
        throw;
    }

    VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO};
    flags.flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT;
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
    alloc.allocationSize = req.size;
    alloc.memoryTypeIndex = type;
    VkResult result = vk.vkAllocateMemory(ctx_.device(), &alloc, nullptr, &block.memory);
    if (result != VK_SUCCESS) {
        vk.vkDestroyBuffer(ctx_.device(), block.buffer, nullptr);
        throw Error(ErrorCode::OutOfMemory, what + ": allocating a block of " + mib(req.size) +
                                                " of " + (kind_ == MemoryKind::Host ? "host" : "device") +
                                                " memory failed with " + vk_result_name(result));
    }
    MOEVK_VK_CHECK(vk.vkBindBufferMemory(ctx_.device(), block.buffer, block.memory, 0));

    VkBufferDeviceAddressInfo address{VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO};
    address.buffer = block.buffer;
    block.address = vk.vkGetBufferDeviceAddress(ctx_.device(), &address);

    // Device memory that is also host-visible (lavapipe, integrated GPUs, resizable BAR) is mapped
    // so uploads can skip the staging copy.
    VkMemoryPropertyFlags mappable = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if ((ctx_.memory_properties().memoryTypes[type].propertyFlags & mappable) == mappable) {
        void* ptr = nullptr;
        MOEVK_VK_CHECK(vk.vkMapMemory(ctx_.device(), block.memory, 0, VK_WHOLE_SIZE, 0, &ptr));
        block.mapped = static_cast<uint8_t*>(ptr);
    }
    block.free[0] = bytes;

    // Reuse an empty slot left by a destroyed dedicated block.
    for (size_t i = 0; i < blocks_.size(); ++i) {
        if (blocks_[i].memory == VK_NULL_HANDLE) {
            blocks_[i] = std::move(block);
            return i;
        }
    }
    blocks_.push_back(std::move(block));
    return blocks_.size() - 1;
}

void Arena::destroy_block(Block& b) {
    if (b.memory == VK_NULL_HANDLE) return;
    const VolkDeviceTable& vk = ctx_.vk();
    vk.vkDestroyBuffer(ctx_.device(), b.buffer, nullptr);
    vk.vkFreeMemory(ctx_.device(), b.memory, nullptr);  // also unmaps
    b = Block{};
}

Buffer Arena::allocate(VkDeviceSize bytes, const std::string& what) {
    if (bytes == 0) throw Error(ErrorCode::InvalidArgument, what + ": cannot allocate 0 bytes");
    VkDeviceSize size = align_up(bytes, kAlignment);
    std::lock_guard<std::mutex> guard(lock_);
    auto take = [&](size_t index) -> std::optional<Buffer> {
        Block& b = blocks_[index];
        for (auto it = b.free.begin(); it != b.free.end(); ++it) {
            if (it->second < size) continue;
            VkDeviceSize offset = it->first;
            VkDeviceSize rest = it->second - size;
            b.free.erase(it);
            if (rest > 0) b.free[offset + size] = rest;
            Buffer buf;
            buf.arena_ = this;
            buf.block_ = index;
            buf.handle_ = b.buffer;
            buf.offset_ = offset;
            buf.size_ = size;
            buf.address_ = b.address + offset;
            buf.mapped_ = b.mapped ? b.mapped + offset : nullptr;
            in_use_ += size;
            return buf;
        }
        return std::nullopt;
    };
    if (size <= block_bytes_) {
        for (size_t i = 0; i < blocks_.size(); ++i)
            if (blocks_[i].memory != VK_NULL_HANDLE && !blocks_[i].dedicated)
                if (auto buf = take(i)) return std::move(*buf);
        return std::move(*take(create_block(block_bytes_, false, what)));
    }
    return std::move(*take(create_block(size, true, what)));
}

void Arena::release(size_t index, VkDeviceSize offset, VkDeviceSize size) {
    std::lock_guard<std::mutex> guard(lock_);
    Block& b = blocks_[index];
    in_use_ -= size;
    auto [it, inserted] = b.free.emplace(offset, size);
    // Coalesce with the following and the preceding free range.
    auto next = std::next(it);
    if (next != b.free.end() && it->first + it->second == next->first) {
        it->second += next->second;
        b.free.erase(next);
    }
    if (it != b.free.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
            prev->second += it->second;
            b.free.erase(it);
        }
    }
    if (b.dedicated && b.free.size() == 1 && b.free.begin()->second == b.size) destroy_block(b);
}

}  // namespace moevk::gpu
