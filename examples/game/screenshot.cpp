#include "screenshot.h"

#include <png.h>

#include <stdexcept>
#include <vector>

Screenshot::Screenshot(const Window& window) : window_(window) {}

Screenshot::~Screenshot() { release(); }

void Screenshot::release() {
    vkDestroyBuffer(window_.device(), buffer_, nullptr);
    vkFreeMemory(window_.device(), memory_, nullptr);
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    recorded_ = false;
}

void Screenshot::record(VkCommandBuffer cmd, VkImage image) {
    if (!window_.can_read_back()) throw std::runtime_error("--screenshot: the swapchain images cannot be copied from");
    release(); // a second screenshot: the first one's buffer has been saved (or is dropped)
    VkDevice device = window_.device();
    extent_ = window_.extent();
    VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;

    VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = bytes;
    info.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VK_CHECK(vkCreateBuffer(device, &info, nullptr, &buffer_));
    VkMemoryRequirements needs;
    vkGetBufferMemoryRequirements(device, buffer_, &needs);
    VkPhysicalDeviceMemoryProperties props;
    vkGetPhysicalDeviceMemoryProperties(window_.physical_device(), &props);
    const VkMemoryPropertyFlags wanted = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < props.memoryTypeCount && type == UINT32_MAX; ++i)
        if ((needs.memoryTypeBits & (1u << i)) && (props.memoryTypes[i].propertyFlags & wanted) == wanted) type = i;
    if (type == UINT32_MAX) throw std::runtime_error("--screenshot: no host-visible coherent memory");
    VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    alloc.allocationSize = needs.size;
    alloc.memoryTypeIndex = type;
    VK_CHECK(vkAllocateMemory(device, &alloc, nullptr, &memory_));
    VK_CHECK(vkBindBufferMemory(device, buffer_, memory_, 0));

    // PRESENT_SRC -> TRANSFER_SRC after the render pass's writes; copy; back to PRESENT_SRC for
    // the present; and make the copy visible to the host's read after the fence.
    VkImageMemoryBarrier to_copy{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    to_copy.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    to_copy.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    to_copy.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    to_copy.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    to_copy.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_copy.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_copy.image = image;
    to_copy.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                         nullptr, 0, nullptr, 1, &to_copy);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {extent_.width, extent_.height, 1};
    vkCmdCopyImageToBuffer(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buffer_, 1, &region);
    VkImageMemoryBarrier to_present = to_copy;
    to_present.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    to_present.dstAccessMask = 0;
    to_present.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    to_present.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    to_host.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_host.buffer = buffer_;
    to_host.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
                         0, 0, nullptr, 1, &to_host, 1, &to_present);
    recorded_ = true;
}

void Screenshot::save(const std::string& path) const {
    if (!recorded_) throw std::runtime_error("--screenshot: no frame was captured");
    bool bgr;
    switch (window_.format()) {
        case VK_FORMAT_B8G8R8A8_UNORM:
        case VK_FORMAT_B8G8R8A8_SRGB: bgr = true; break;
        case VK_FORMAT_R8G8B8A8_UNORM:
        case VK_FORMAT_R8G8B8A8_SRGB: bgr = false; break;
        default: throw std::runtime_error("--screenshot: unexpected swapchain format " + std::to_string(window_.format()));
    }
    void* mapped = nullptr;
    VK_CHECK(vkMapMemory(window_.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped));
    const auto* src = static_cast<const uint8_t*>(mapped);
    // RGB without the alpha channel: what a window system shows of an opaque surface.
    const size_t pixels = size_t(extent_.width) * extent_.height;
    std::vector<uint8_t> rgb(pixels * 3);
    for (size_t i = 0; i < pixels; ++i) {
        rgb[3 * i + 0] = src[4 * i + (bgr ? 2 : 0)];
        rgb[3 * i + 1] = src[4 * i + 1];
        rgb[3 * i + 2] = src[4 * i + (bgr ? 0 : 2)];
    }
    vkUnmapMemory(window_.device(), memory_);

    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = extent_.width;
    image.height = extent_.height;
    image.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&image, path.c_str(), 0, rgb.data(), 0, nullptr))
        throw std::runtime_error("--screenshot: " + path + ": " + image.message);
}
