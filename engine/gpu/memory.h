// Device memory in few large allocations. An Arena owns blocks of VkDeviceMemory, each bound to
// one VkBuffer that spans it; a Buffer is a byte range of one block, reached by shaders through
// its device address. Requests larger than the block size get a block of their own (up to the
// device's maxMemoryAllocationSize).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gpu/vulkan.h"

namespace moevk::gpu {

class Context;
class Arena;

enum class MemoryKind {
    Device,  // device-local: weights, activations
    Host,    // host-visible and coherent: staging uploads and readbacks
};

// Move-only handle to a range of an arena block; gives the range back when destroyed.
class Buffer {
public:
    Buffer() = default;
    Buffer(Buffer&& other) noexcept { *this = std::move(other); }
    Buffer& operator=(Buffer&& other) noexcept;
    ~Buffer();
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    explicit operator bool() const { return arena_ != nullptr; }
    VkBuffer handle() const { return handle_; }
    VkDeviceSize offset() const { return offset_; }  // within handle()
    VkDeviceSize size() const { return size_; }
    VkDeviceAddress address() const { return address_; }
    // Host pointer to the range when its memory is host-visible and coherent, else nullptr.
    void* mapped() const { return mapped_; }

private:
    friend class Arena;
    Arena* arena_ = nullptr;
    size_t block_ = 0;
    VkBuffer handle_ = VK_NULL_HANDLE;
    VkDeviceSize offset_ = 0;
    VkDeviceSize size_ = 0;
    VkDeviceAddress address_ = 0;
    void* mapped_ = nullptr;
};

class Arena {
public:
    static constexpr VkDeviceSize kDefaultBlockBytes = 256ull << 20;
    static constexpr VkDeviceSize kAlignment = 256;

    Arena(Context& ctx, MemoryKind kind, VkDeviceSize block_bytes = kDefaultBlockBytes);
    ~Arena();
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    // `what` names the tensor or buffer in the error when the allocation cannot be made.
    // Allocation and release may run on several threads at once (sessions of one engine).
    Buffer allocate(VkDeviceSize bytes, const std::string& what);

    VkDeviceSize bytes_in_use() const {
        std::lock_guard<std::mutex> guard(lock_);
        return in_use_;
    }
    VkDeviceSize bytes_reserved() const;

private:
    friend class Buffer;
    struct Block {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkBuffer buffer = VK_NULL_HANDLE;
        VkDeviceSize size = 0;
        VkDeviceAddress address = 0;
        uint8_t* mapped = nullptr;
        bool dedicated = false;
        std::map<VkDeviceSize, VkDeviceSize> free;  // offset -> length, coalesced
    };
    size_t create_block(VkDeviceSize bytes, bool dedicated, const std::string& what);
    void destroy_block(Block& block);
    void release(size_t block, VkDeviceSize offset, VkDeviceSize size);

    Context& ctx_;
    MemoryKind kind_;
    VkDeviceSize block_bytes_;
    mutable std::mutex lock_;  // over in_use_ and blocks_
    VkDeviceSize in_use_ = 0;
    std::vector<Block> blocks_;
};

}  // namespace moevk::gpu
