// The Vulkan layer under the kernels: device discovery and selection, the arena allocator, host
// transfers, addressing past maxStorageBufferRange, pipeline errors, that the validation plumbing
// really reports, embedding into a device the host owns, and timestamps.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpu/error.h"
#include "gpu/pipeline.h"
#include "test_support.h"

namespace moevk::gpu {
namespace {

class Gpu : public test::GpuTest {};

// Every Context::create, list_devices and Context::adopt points volk's process-global instance
// functions at the instance it just made or was given. A test that makes (and destroys) another
// instance points them back at the shared context's, which later tests and its destructor use
// (its destructor calls vkDestroyDebugUtilsMessengerEXT through them, which is null when loaded
// from an instance without debug utils).
void restore_instance_functions() {
    volkLoadInstanceOnly(test::context().instance());
}

// Restores them when the test ends, however it ends; declared before any other context so that
// it runs after their destructors.
class RestoreInstanceFunctions {
  public:
    RestoreInstanceFunctions() { test::context(); }
    ~RestoreInstanceFunctions() { restore_instance_functions(); }
    RestoreInstanceFunctions(const RestoreInstanceFunctions&) = delete;
    RestoreInstanceFunctions& operator=(const RestoreInstanceFunctions&) = delete;
};

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> v(n);
    for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

// Push constants of shaders/bench/copy_probe.comp (scalar layout).
struct CopyPush {
    uint64_t src;
    uint64_t dst;
    uint32_t n;  // 16-byte vectors
};

// Copies `vectors` 16-byte vectors from device address src to dst with copy_probe and waits.
void copy_on_gpu(Context& ctx, VkDeviceAddress src, VkDeviceAddress dst, uint32_t vectors) {
    ComputePipeline& pipeline = ctx.pipeline("copy_probe", {256});
    CopyPush push{src, dst, vectors};
    CommandBuffer cb(ctx, ctx.compute_queue());
    cb.begin();
    cb.dispatch(pipeline, &push, sizeof(push), vectors);
    cb.submit_and_wait();
}

template <class F>
Error expect_error(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no moevk::Error was thrown";
    return Error(ErrorCode::InvalidArgument, "");
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// --- devices ---------------------------------------------------------------------------------

TEST_F(Gpu, DeviceInfoIsFilledIn) {
    const DeviceInfo& info = ctx().info();
    EXPECT_FALSE(info.name.empty());
    EXPECT_GE(info.api_version, VK_API_VERSION_1_2);
    EXPECT_GT(info.max_allocation_size, 0u);
    EXPECT_GT(info.max_storage_buffer_range, 0u);
    EXPECT_GT(info.device_local_bytes, 0u);
    // Vulkan's required minimums for compute.
    EXPECT_GE(info.max_workgroup_invocations, 128u);
    EXPECT_GE(info.max_shared_memory, 16384u);
    EXPECT_GT(info.subgroup_size, 0u);
    EXPECT_EQ(info.subgroup_size & (info.subgroup_size - 1), 0u) << "not a power of two";
    // lavapipe and every desktop GPU time the compute queue; the engine's profiling relies on it.
    EXPECT_GT(info.timestamp_period_ns, 0.0);
    EXPECT_NE(std::string(device_kind_name(info.kind)), "");
    EXPECT_NE(ctx().device(), VK_NULL_HANDLE);
    EXPECT_TRUE(ctx().owns_device());
}

TEST_F(Gpu, ListDevicesIncludesTheContextDevice) {
    RestoreInstanceFunctions restore;
    const DeviceInfo& mine = ctx().info();
    std::vector<DeviceInfo> devices = list_devices();
    ASSERT_GE(devices.size(), 1u);
    bool found = false;
    for (const DeviceInfo& d : devices) {
        EXPECT_FALSE(d.name.empty());
        if (d.name == mine.name && d.max_storage_buffer_range == mine.max_storage_buffer_range &&
            d.max_allocation_size == mine.max_allocation_size)
            found = true;
    }
    EXPECT_TRUE(found) << "the context's device " << mine.name << " is not listed";
}

TEST_F(Gpu, UnmatchedDeviceNameThrowsNoDevice) {
    RestoreInstanceFunctions restore;
    ContextOptions options;
    options.device.name_contains = "no-such-gpu-xyzzy";
    Error e = expect_error([&] { Context::create(options); });
    EXPECT_EQ(e.code(), ErrorCode::NoDevice);
    EXPECT_TRUE(contains(e.what(), "no-such-gpu-xyzzy")) << e.what();
}

TEST_F(Gpu, OutOfRangeDeviceIndexThrowsNoDevice) {
    RestoreInstanceFunctions restore;
    ContextOptions options;
    options.device.index = 4242;
    Error e = expect_error([&] { Context::create(options); });
    EXPECT_EQ(e.code(), ErrorCode::NoDevice);
    EXPECT_TRUE(contains(e.what(), "4242")) << e.what();
}

// --- arena and transfers ---------------------------------------------------------------------

TEST_F(Gpu, ArenaAllocatesFreesAndReuses) {
    Arena& arena = ctx().arena(MemoryKind::Device);
    // No test keeps buffers alive past its end, so the shared arena starts empty.
    ASSERT_EQ(arena.bytes_in_use(), 0u);
    {
        std::vector<Buffer> buffers;
        const VkDeviceSize sizes[] = {1, 1000, 256, 257, 4096, 100000};
        VkDeviceSize expected_in_use = 0;
        for (VkDeviceSize s : sizes) {
            buffers.push_back(ctx().allocate(s, MemoryKind::Device, "arena test"));
            expected_in_use += (s + 255) / 256 * 256;
        }
        EXPECT_EQ(arena.bytes_in_use(), expected_in_use);
        for (size_t i = 0; i < buffers.size(); ++i) {
            const Buffer& b = buffers[i];
            ASSERT_TRUE(b);
            EXPECT_GE(b.size(), sizes[i]);
            EXPECT_EQ(b.address() % Arena::kAlignment, 0u) << "buffer " << i;
            EXPECT_EQ(b.offset() % Arena::kAlignment, 0u) << "buffer " << i;
            // No two ranges overlap.
            for (size_t j = 0; j < i; ++j) {
                const Buffer& o = buffers[j];
                EXPECT_TRUE(b.address() + b.size() <= o.address() ||
                            o.address() + o.size() <= b.address())
                    << "buffers " << j << " and " << i << " overlap";
            }
        }

        // Free two neighbours (1000 and 256 bytes: 1024 + 256 aligned); the coalesced hole must
        // take an allocation as large as both together without reserving more memory.
        VkDeviceSize reserved = arena.bytes_reserved();
        VkDeviceAddress hole = buffers[1].address();
        ASSERT_EQ(buffers[2].address(), hole + 1024);
        buffers[1] = Buffer{};
        buffers[2] = Buffer{};
        EXPECT_FALSE(buffers[1]);
        EXPECT_EQ(arena.bytes_in_use(), expected_in_use - 1024 - 256);
        Buffer reused = ctx().allocate(1280, MemoryKind::Device, "arena test reuse");
        EXPECT_EQ(reused.address(), hole);
        EXPECT_EQ(arena.bytes_reserved(), reserved);
        EXPECT_EQ(arena.bytes_in_use(), expected_in_use);

        // Moving a buffer hands over the range without freeing it.
        Buffer moved = std::move(buffers[4]);
        EXPECT_FALSE(buffers[4]);
        EXPECT_EQ(arena.bytes_in_use(), expected_in_use);
        EXPECT_EQ(moved.size(), 4096u);
    }
    EXPECT_EQ(arena.bytes_in_use(), 0u);
}

TEST_F(Gpu, ZeroByteAllocationThrows) {
    Error e = expect_error([&] { ctx().allocate(0, MemoryKind::Device, "empty tensor"); });
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(contains(e.what(), "empty tensor")) << e.what();
    EXPECT_EQ(ctx().arena(MemoryKind::Device).bytes_in_use(), 0u);
}

TEST_F(Gpu, AllocationAboveTheDeviceLimitThrowsOutOfMemory) {
    const VkDeviceSize limit = ctx().info().max_allocation_size;
    if (limit > (1ull << 62)) GTEST_SKIP() << "maxMemoryAllocationSize is effectively unlimited";
    Error e = expect_error([&] { ctx().allocate(limit + 1, MemoryKind::Device, "huge tensor"); });
    EXPECT_EQ(e.code(), ErrorCode::OutOfMemory);
    EXPECT_TRUE(contains(e.what(), "huge tensor")) << e.what();
}

TEST_F(Gpu, UploadDownloadRoundTrip) {
    for (MemoryKind kind : {MemoryKind::Device, MemoryKind::Host}) {
        SCOPED_TRACE(kind == MemoryKind::Device ? "device memory" : "host memory");
        Buffer b = ctx().allocate(8192, kind, "round trip");
        fill(ctx(), b, 0xA5A5A5A5u);
        std::vector<uint8_t> head = random_bytes(1000, 1), middle = random_bytes(777, 2);
        upload(ctx(), b, head.data(), head.size());
        upload(ctx(), b, middle.data(), middle.size(), 3001);  // unaligned offset

        std::vector<uint8_t> all(8192);
        download(ctx(), b, all.data(), all.size());
        EXPECT_TRUE(std::equal(head.begin(), head.end(), all.begin()));
        EXPECT_TRUE(std::equal(middle.begin(), middle.end(), all.begin() + 3001));
        // Bytes no upload touched keep the fill pattern.
        EXPECT_EQ(all[1000], 0xA5);
        EXPECT_EQ(all[3000], 0xA5);
        EXPECT_EQ(all[3001 + 777], 0xA5);
        EXPECT_EQ(all[8191], 0xA5);

        std::vector<uint8_t> part(500);
        download(ctx(), b, part.data(), part.size(), 3101);
        EXPECT_TRUE(std::equal(part.begin(), part.end(), middle.begin() + 100));
    }
}

TEST_F(Gpu, OutOfRangeTransfersThrow) {
    Buffer b = ctx().allocate(1024, MemoryKind::Device, "small");
    std::vector<uint8_t> data(2048);
    EXPECT_EQ(expect_error([&] { upload(ctx(), b, data.data(), b.size() + 1); }).code(),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(expect_error([&] { upload(ctx(), b, data.data(), 16, b.size() - 15); }).code(),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(expect_error([&] { download(ctx(), b, data.data(), 16, b.size() - 8); }).code(),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(expect_error([&] { upload(ctx(), Buffer{}, data.data(), 1); }).code(),
              ErrorCode::InvalidArgument);
    // offset + bytes wraps around 2^64: must not pass the range check.
    EXPECT_EQ(expect_error([&] { upload(ctx(), b, data.data(), 2, ~0ull); }).code(),
              ErrorCode::InvalidArgument);
    // Exactly filling the buffer is fine.
    EXPECT_NO_THROW(upload(ctx(), b, data.data(), 16, b.size() - 16));
}

// Shaders reach tensors through device addresses, so an offset past maxStorageBufferRange (the
// limit a descriptor binding would impose: 128 MiB on lavapipe) must still be readable.
TEST_F(Gpu, ShaderReadsPastMaxStorageBufferRange) {
    const VkDeviceSize range = ctx().info().max_storage_buffer_range;
    const VkDeviceSize big_bytes = range + (32ull << 20);
    if (ctx().info().max_allocation_size < big_bytes)
        GTEST_SKIP() << "maxMemoryAllocationSize " << ctx().info().max_allocation_size << " < "
                     << big_bytes;
    const VkDeviceSize offset = (range + (16ull << 20)) / 16 * 16;
    const uint32_t vectors = 64 * 1024;  // 1 MiB
    const size_t bytes = size_t(vectors) * 16;

    Buffer big = ctx().allocate(big_bytes, MemoryKind::Device, "big");
    std::vector<uint8_t> pattern = random_bytes(bytes, 3);
    upload(ctx(), big, pattern.data(), bytes, offset);
    // Where a 32-bit (or range-clamped) offset would land instead: different bytes, so reading the
    // wrong place cannot pass.
    std::vector<uint8_t> alias = random_bytes(bytes, 4);
    upload(ctx(), big, alias.data(), bytes, offset - range);
    if (offset >> 32) upload(ctx(), big, alias.data(), bytes, offset & 0xFFFFFFFFull);

    // The destination is larger than the copy; what lies past it must stay poisoned.
    Buffer dst = test::poisoned_buffer(ctx(), bytes / 4 + 64, "dst");
    copy_on_gpu(ctx(), big.address() + offset, dst.address(), vectors);

    std::vector<uint8_t> got(bytes + 256);
    download(ctx(), dst, got.data(), got.size());
    EXPECT_EQ(0, std::memcmp(got.data(), pattern.data(), bytes));
    std::vector<uint32_t> tail(64);
    std::memcpy(tail.data(), got.data() + bytes, 256);
    for (uint32_t w : tail) EXPECT_EQ(w, test::kPoison);
}

// --- pipelines -------------------------------------------------------------------------------

TEST_F(Gpu, UnknownShaderThrowsMissingShader) {
    Error e = expect_error([&] { ctx().pipeline("no_such_shader"); });
    EXPECT_EQ(e.code(), ErrorCode::MissingShader);
    EXPECT_TRUE(contains(e.what(), "no_such_shader")) << e.what();
    // A workgroup size the device cannot run is refused before Vulkan sees it.
    EXPECT_EQ(expect_error([&] { ctx().pipeline("copy_probe", {0}); }).code(),
              ErrorCode::InvalidArgument);
    // Pipelines are cached per (shader, specialisation).
    EXPECT_EQ(&ctx().pipeline("copy_probe", {256}), &ctx().pipeline("copy_probe", {256}));
    EXPECT_NE(&ctx().pipeline("copy_probe", {256}), &ctx().pipeline("copy_probe", {64}));
}

TEST_F(Gpu, OversizedPushConstantsThrow) {
    ComputePipeline& pipeline = ctx().pipeline("copy_probe", {256});
    std::vector<uint8_t> push(kPushConstantBytes + 4);
    CommandBuffer cb(ctx(), ctx().compute_queue());
    cb.begin();
    EXPECT_EQ(expect_error([&] {
                  cb.dispatch(pipeline, push.data(), static_cast<uint32_t>(push.size()), 1);
              }).code(),
              ErrorCode::InvalidArgument);
    cb.end();
}

// --- validation plumbing ---------------------------------------------------------------------

// The shared fixture treats silence from the validation layer as success; that only means
// something if messages really reach the callback. A second context with its own collector
// records a dispatch with no pipeline bound, which the layer must report.
TEST_F(Gpu, ValidationMessagesReachTheCallback) {
    RestoreInstanceFunctions restore;
    std::vector<std::string> messages;
    ContextOptions options;
    options.validation = true;
    options.on_validation_message = [&](const std::string& m) { messages.push_back(m); };
    if (const char* name = std::getenv("MOEVK_DEVICE")) options.device.name_contains = name;
    std::unique_ptr<Context> ctx2 = Context::create(options);
    ASSERT_TRUE(messages.empty()) << "creating a context reported: " << messages.front();
    {
        // A zero-sized buffer is invalid usage that the layer reports and stops before the
        // driver. (A dispatch with no pipeline bound, used here before, crashed NVIDIA's driver:
        // the layer reports it but still passes it down.)
        VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        info.size = 0;
        info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
        VkBuffer buffer = VK_NULL_HANDLE;
        ctx2->vk().vkCreateBuffer(ctx2->device(), &info, nullptr, &buffer);
        if (buffer != VK_NULL_HANDLE) ctx2->vk().vkDestroyBuffer(ctx2->device(), buffer, nullptr);
    }
    ctx2.reset();
    ASSERT_FALSE(messages.empty()) << "the validation layer said nothing about a zero-sized buffer";
    bool names_call = std::any_of(messages.begin(), messages.end(), [](const std::string& m) {
        return contains(m, "VkBufferCreateInfo") || contains(m, "vkCreateBuffer");
    });
    EXPECT_TRUE(names_call) << "first message: " << messages.front();
    // The shared context's collector (checked by TearDown) heard none of this.
}

// An application may list devices while a validating context lives. ~Context destroys its
// messenger through volk's global vkDestroyDebugUtilsMessengerEXT, which list_devices() has just
// loaded from an instance without VK_EXT_debug_utils: null, so this segfaults. Disabled until
// ~Context uses functions loaded for its own instance (see the report that added this file).
TEST_F(Gpu, ValidatingContextOutlivesListDevices) {
    RestoreInstanceFunctions restore;
    std::vector<std::string> messages;
    ContextOptions options;
    options.validation = true;
    options.on_validation_message = [&](const std::string& m) { messages.push_back(m); };
    if (const char* name = std::getenv("MOEVK_DEVICE")) options.device.name_contains = name;
    std::unique_ptr<Context> ctx2 = Context::create(options);
    EXPECT_FALSE(list_devices().empty());
    ctx2.reset();
    for (const std::string& m : messages) ADD_FAILURE() << "second context: " << m;
}

// --- embedding in a host-owned device --------------------------------------------------------

VKAPI_ATTR VkBool32 VKAPI_CALL collect_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                               VkDebugUtilsMessageTypeFlagsEXT,
                                               const VkDebugUtilsMessengerCallbackDataEXT* data,
                                               void* user) {
    static_cast<std::vector<std::string>*>(user)->push_back(data->pMessage ? data->pMessage
                                                                           : "(empty)");
    return VK_FALSE;
}

// What a game engine would own: its instance (with its own validation messenger), device and
// queue. Destroyed in reverse order even when an assertion ends the test early.
struct HostVulkan {
    std::vector<std::string> messages;
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VolkDeviceTable table{};
    uint32_t family = 0;

    ~HostVulkan() {
        if (device) table.vkDestroyDevice(device, nullptr);
        if (messenger) vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
        if (instance) vkDestroyInstance(instance, nullptr);
    }
};

VkDebugUtilsMessengerCreateInfoEXT messenger_info(std::vector<std::string>* sink) {
    VkDebugUtilsMessengerCreateInfoEXT info{};
    info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    info.pfnUserCallback = collect_message;
    info.pUserData = sink;
    return info;
}

void create_host_vulkan(HostVulkan& host) {
    ASSERT_EQ(volkInitialize(), VK_SUCCESS);
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "moe-vk host test";
    app.apiVersion = VK_API_VERSION_1_2;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* extension = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    // Chained into the create info, the messenger also hears about instance creation and
    // destruction, where a leaked engine object would be reported.
    VkDebugUtilsMessengerCreateInfoEXT chained = messenger_info(&host.messages);
    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pNext = &chained;
    info.pApplicationInfo = &app;
    info.enabledLayerCount = 1;
    info.ppEnabledLayerNames = &layer;
    info.enabledExtensionCount = 1;
    info.ppEnabledExtensionNames = &extension;
    ASSERT_EQ(vkCreateInstance(&info, nullptr, &host.instance), VK_SUCCESS);
    volkLoadInstanceOnly(host.instance);
    VkDebugUtilsMessengerCreateInfoEXT standing = messenger_info(&host.messages);
    ASSERT_EQ(vkCreateDebugUtilsMessengerEXT(host.instance, &standing, nullptr, &host.messenger),
              VK_SUCCESS);

    uint32_t count = 1;
    VkResult r = vkEnumeratePhysicalDevices(host.instance, &count, &host.physical);
    ASSERT_TRUE(r == VK_SUCCESS || r == VK_INCOMPLETE);
    ASSERT_EQ(count, 1u);

    uint32_t families = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(host.physical, &families, nullptr);
    std::vector<VkQueueFamilyProperties> props(families);
    vkGetPhysicalDeviceQueueFamilyProperties(host.physical, &families, props.data());
    auto compute = std::find_if(props.begin(), props.end(), [](const VkQueueFamilyProperties& p) {
        return p.queueFlags & VK_QUEUE_COMPUTE_BIT;
    });
    ASSERT_NE(compute, props.end());
    host.family = static_cast<uint32_t>(compute - props.begin());

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{};
    queue.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    queue.queueFamilyIndex = host.family;
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;
    VkPhysicalDeviceVulkan12Features v12{};
    v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
    v12.bufferDeviceAddress = VK_TRUE;
    v12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo device_info{};
    device_info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    device_info.pNext = &v12;
    device_info.queueCreateInfoCount = 1;
    device_info.pQueueCreateInfos = &queue;
    ASSERT_EQ(vkCreateDevice(host.physical, &device_info, nullptr, &host.device), VK_SUCCESS);
    volkLoadDeviceTable(&host.table, host.device);
}

TEST_F(Gpu, AdoptsAHostOwnedDevice) {
    RestoreInstanceFunctions restore;
    HostVulkan host;
    ASSERT_NO_FATAL_FAILURE(create_host_vulkan(host));
    {
        std::unique_ptr<Context> adopted = Context::adopt(
            ExternalDevice{host.instance, host.physical, host.device, host.family, 0});
        EXPECT_FALSE(adopted->owns_device());
        EXPECT_EQ(adopted->device(), host.device);
        EXPECT_EQ(adopted->instance(), host.instance);
        EXPECT_FALSE(adopted->info().name.empty());

        const uint32_t vectors = 4096;
        std::vector<uint8_t> data = random_bytes(size_t(vectors) * 16, 5);
        Buffer src = adopted->allocate(data.size(), MemoryKind::Device, "src");
        Buffer dst = adopted->allocate(data.size(), MemoryKind::Device, "dst");
        upload(*adopted, src, data.data(), data.size());
        fill(*adopted, dst, 0);
        copy_on_gpu(*adopted, src.address(), dst.address(), vectors);
        std::vector<uint8_t> got(data.size());
        download(*adopted, dst, got.data(), got.size());
        EXPECT_EQ(got, data);
    }
    // The engine is gone; the device it borrowed must still be the host's to use.
    EXPECT_EQ(host.table.vkDeviceWaitIdle(host.device), VK_SUCCESS);
    VkQueue queue = VK_NULL_HANDLE;
    host.table.vkGetDeviceQueue(host.device, host.family, 0, &queue);
    ASSERT_NE(queue, VK_NULL_HANDLE);
    EXPECT_EQ(host.table.vkQueueWaitIdle(queue), VK_SUCCESS);

    // Destroying the device reports any object the engine left behind on it.
    host.table.vkDestroyDevice(host.device, nullptr);
    host.device = VK_NULL_HANDLE;
    vkDestroyDebugUtilsMessengerEXT(host.instance, host.messenger, nullptr);
    host.messenger = VK_NULL_HANDLE;
    vkDestroyInstance(host.instance, nullptr);
    host.instance = VK_NULL_HANDLE;
    for (const std::string& m : host.messages) ADD_FAILURE() << "host validation layer: " << m;
}

TEST_F(Gpu, AdoptRejectsIncompleteDevices) {
    RestoreInstanceFunctions restore;
    EXPECT_EQ(expect_error([] { Context::adopt(ExternalDevice{}); }).code(),
              ErrorCode::InvalidArgument);
    ExternalDevice no_device{ctx().instance(), ctx().physical_device(), VK_NULL_HANDLE, 0, 0};
    Error e = expect_error([&] { Context::adopt(no_device); });
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(contains(e.what(), "device")) << e.what();
    ExternalDevice bad_family{ctx().instance(), ctx().physical_device(), ctx().device(), 9999, 0};
    Error f = expect_error([&] { Context::adopt(bad_family); });
    EXPECT_EQ(f.code(), ErrorCode::InvalidArgument);
    EXPECT_TRUE(contains(f.what(), "9999")) << f.what();
}

// --- timestamps ------------------------------------------------------------------------------

TEST_F(Gpu, TimestampsAreNonDecreasing) {
    if (ctx().info().timestamp_period_ns <= 0)
        GTEST_SKIP() << "the compute queue has no timestamps";
    const uint32_t vectors = 16 * 1024;
    std::vector<uint8_t> data = random_bytes(size_t(vectors) * 16, 6);
    Buffer a = test::device_buffer(ctx(), data, "a");
    Buffer b = ctx().allocate(data.size(), MemoryKind::Device, "b");
    Buffer c = ctx().allocate(data.size(), MemoryKind::Device, "c");
    ComputePipeline& pipeline = ctx().pipeline("copy_probe", {256});

    TimestampPool pool(ctx(), 3);
    EXPECT_EQ(pool.count(), 3u);
    CommandBuffer cb(ctx(), ctx().compute_queue());
    cb.begin();
    cb.reset_timestamps(pool);
    cb.timestamp(pool, 0);
    CopyPush first{a.address(), b.address(), vectors};
    cb.dispatch(pipeline, &first, sizeof(first), vectors);
    cb.timestamp(pool, 1);
    cb.barrier();
    CopyPush second{b.address(), c.address(), vectors};
    cb.dispatch(pipeline, &second, sizeof(second), vectors);
    cb.timestamp(pool, 2);
    cb.submit_and_wait();

    std::vector<double> ns = pool.read_ns();
    ASSERT_EQ(ns.size(), 3u);
    EXPECT_EQ(ns[0], 0.0);
    EXPECT_GE(ns[1], ns[0]);
    EXPECT_GE(ns[2], ns[1]);
    // read_ns subtracts unsigned ticks: a later tick that is smaller would wrap to ~1.8e19 ticks.
    // A bound of an hour is no timing assert, only a check the values are real timestamps.
    EXPECT_LT(ns[2], 3600e9);
    // And the work between them really ran.
    EXPECT_EQ(gpu::download<uint8_t>(ctx(), c, data.size()), data);
}

}  // namespace
}  // namespace moevk::gpu
