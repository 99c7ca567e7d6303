// moe-soak: a long generation through the public C API, watching memory. It generates TOKENS
// tokens (default 10000) in a context of --ctx positions; each time the context fills it makes
// room the ways a host would, in turn: a shift (keep the first half, re-evaluate its last token),
// a rewind to the prompt, a reset with the prompt fed again. Every --every tokens it prints the
// process's resident memory and the device memory the engine holds.
//
// The device memory is counted exactly, on any driver: the engine runs on a VkDevice made here
// (moevk_vulkan.h) and reaches Vulkan through a vkGetInstanceProcAddr that wraps
// vkAllocateMemory / vkFreeMemory, so every byte the engine allocates or frees is seen.
//
// Pass/fail: the session's KV cache and buffers are allocated when it is made, so after the
// first report (every cache and pipeline warm) device memory must not grow at all and resident
// memory by at most --rss-slack MiB; the live Vulkan objects it counts (below) must not grow,
// and destroying the engine must free all of them and all its memory. Exit status 1 otherwise,
// 2 for an API error.
#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "moevk/moevk.h"
#include "moevk/moevk_vulkan.h"

namespace {

// --- device memory, counted at the Vulkan entry points --------------------------------------

struct MemoryCount {
    std::mutex lock;
    std::unordered_map<VkDeviceMemory, VkDeviceSize> live;
    VkDeviceSize bytes = 0, peak = 0;
    uint64_t allocations = 0;
};
MemoryCount g_memory;
PFN_vkAllocateMemory g_allocate = nullptr;
PFN_vkFreeMemory g_free = nullptr;
PFN_vkGetDeviceProcAddr g_device_proc = nullptr;

VKAPI_ATTR VkResult VKAPI_CALL counting_allocate(VkDevice device, const VkMemoryAllocateInfo* info,
                                                 const VkAllocationCallbacks* callbacks,
                                                 VkDeviceMemory* memory) {
    VkResult r = g_allocate(device, info, callbacks, memory);
    if (r == VK_SUCCESS) {
        std::lock_guard<std::mutex> l(g_memory.lock);
        g_memory.live[*memory] = info->allocationSize;
        g_memory.bytes += info->allocationSize;
        g_memory.peak = std::max(g_memory.peak, g_memory.bytes);
        ++g_memory.allocations;
    }
    return r;
}

VKAPI_ATTR void VKAPI_CALL counting_free(VkDevice device, VkDeviceMemory memory,
                                         const VkAllocationCallbacks* callbacks) {
    if (memory != VK_NULL_HANDLE) {
        std::lock_guard<std::mutex> l(g_memory.lock);
        auto it = g_memory.live.find(memory);
        if (it != g_memory.live.end()) {
            g_memory.bytes -= it->second;
            g_memory.live.erase(it);
        }
    }
    g_free(device, memory, callbacks);
}

// Live Vulkan objects the engine made (buffers, command pools and buffers, query pools,
// semaphores, fences, pipelines): a leak that stays inside an arena block shows here.
std::atomic<int64_t> g_objects{0};
PFN_vkCreateBuffer g_create_buffer;
PFN_vkDestroyBuffer g_destroy_buffer;
PFN_vkCreateCommandPool g_create_pool;
PFN_vkDestroyCommandPool g_destroy_pool;
PFN_vkAllocateCommandBuffers g_allocate_cbs;
PFN_vkFreeCommandBuffers g_free_cbs;
PFN_vkCreateQueryPool g_create_query;
PFN_vkDestroyQueryPool g_destroy_query;
PFN_vkCreateSemaphore g_create_semaphore;
PFN_vkDestroySemaphore g_destroy_semaphore;
PFN_vkCreateFence g_create_fence;
PFN_vkDestroyFence g_destroy_fence;
PFN_vkCreateComputePipelines g_create_pipelines;
PFN_vkDestroyPipeline g_destroy_pipeline;

VkResult counted(VkResult r, int64_t n = 1) {
    if (r == VK_SUCCESS) g_objects += n;
    return r;
}
template <class Handle>
void uncount(Handle h) {
    if (h != VK_NULL_HANDLE) --g_objects;
}

VKAPI_ATTR VkResult VKAPI_CALL c_create_buffer(VkDevice d, const VkBufferCreateInfo* i,
                                               const VkAllocationCallbacks* a, VkBuffer* o) {
    return counted(g_create_buffer(d, i, a, o));
}
VKAPI_ATTR void VKAPI_CALL c_destroy_buffer(VkDevice d, VkBuffer h,
                                            const VkAllocationCallbacks* a) {
    uncount(h);
    g_destroy_buffer(d, h, a);
}
VKAPI_ATTR VkResult VKAPI_CALL c_create_pool(VkDevice d, const VkCommandPoolCreateInfo* i,
                                             const VkAllocationCallbacks* a, VkCommandPool* o) {
    return counted(g_create_pool(d, i, a, o));
}
// Command buffers still allocated from each pool: destroying the pool frees them.
std::mutex g_pools_lock;
std::unordered_map<VkCommandPool, int64_t> g_pool_buffers;
VKAPI_ATTR void VKAPI_CALL c_destroy_pool(VkDevice d, VkCommandPool h,
                                          const VkAllocationCallbacks* a) {
    if (h != VK_NULL_HANDLE) {
        std::lock_guard<std::mutex> l(g_pools_lock);
        g_objects -= 1 + g_pool_buffers[h];
        g_pool_buffers.erase(h);
    }
    g_destroy_pool(d, h, a);
}
VKAPI_ATTR VkResult VKAPI_CALL c_allocate_cbs(VkDevice d, const VkCommandBufferAllocateInfo* i,
                                              VkCommandBuffer* o) {
    VkResult r = g_allocate_cbs(d, i, o);
    if (r == VK_SUCCESS) {
        std::lock_guard<std::mutex> l(g_pools_lock);
        g_pool_buffers[i->commandPool] += i->commandBufferCount;
        g_objects += i->commandBufferCount;
    }
    return r;
}
VKAPI_ATTR void VKAPI_CALL c_free_cbs(VkDevice d, VkCommandPool p, uint32_t n,
                                      const VkCommandBuffer* cbs) {
    {
        std::lock_guard<std::mutex> l(g_pools_lock);
        for (uint32_t k = 0; k < n; ++k)
            if (cbs[k] != VK_NULL_HANDLE) {
                --g_objects;
                --g_pool_buffers[p];
            }
    }
    g_free_cbs(d, p, n, cbs);
}
VKAPI_ATTR VkResult VKAPI_CALL c_create_query(VkDevice d, const VkQueryPoolCreateInfo* i,
                                              const VkAllocationCallbacks* a, VkQueryPool* o) {
    return counted(g_create_query(d, i, a, o));
}
VKAPI_ATTR void VKAPI_CALL c_destroy_query(VkDevice d, VkQueryPool h,
                                           const VkAllocationCallbacks* a) {
    uncount(h);
    g_destroy_query(d, h, a);
}
VKAPI_ATTR VkResult VKAPI_CALL c_create_semaphore(VkDevice d, const VkSemaphoreCreateInfo* i,
                                                  const VkAllocationCallbacks* a, VkSemaphore* o) {
    return counted(g_create_semaphore(d, i, a, o));
}
VKAPI_ATTR void VKAPI_CALL c_destroy_semaphore(VkDevice d, VkSemaphore h,
                                               const VkAllocationCallbacks* a) {
    uncount(h);
    g_destroy_semaphore(d, h, a);
}
VKAPI_ATTR VkResult VKAPI_CALL c_create_fence(VkDevice d, const VkFenceCreateInfo* i,
                                              const VkAllocationCallbacks* a, VkFence* o) {
    return counted(g_create_fence(d, i, a, o));
}
VKAPI_ATTR void VKAPI_CALL c_destroy_fence(VkDevice d, VkFence h, const VkAllocationCallbacks* a) {
    uncount(h);
    g_destroy_fence(d, h, a);
}
VKAPI_ATTR VkResult VKAPI_CALL c_create_pipelines(VkDevice d, VkPipelineCache c, uint32_t n,
                                                  const VkComputePipelineCreateInfo* i,
                                                  const VkAllocationCallbacks* a, VkPipeline* o) {
    return counted(g_create_pipelines(d, c, n, i, a, o), n);
}
VKAPI_ATTR void VKAPI_CALL c_destroy_pipeline(VkDevice d, VkPipeline h,
                                              const VkAllocationCallbacks* a) {
    uncount(h);
    g_destroy_pipeline(d, h, a);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_device_proc(VkDevice device, const char* name);
VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_instance_proc(VkInstance instance,
                                                                const char* name);

// The entry points that allocate or free device memory, and those that hand out entry points.
PFN_vkVoidFunction wrapped(const char* name) {
    if (std::strcmp(name, "vkAllocateMemory") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(&counting_allocate);
    if (std::strcmp(name, "vkFreeMemory") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(&counting_free);
#define MOEVK_SOAK_WRAP(vk_name, fn) \
    if (std::strcmp(name, #vk_name) == 0) return reinterpret_cast<PFN_vkVoidFunction>(&fn);
    MOEVK_SOAK_WRAP(vkCreateBuffer, c_create_buffer)
    MOEVK_SOAK_WRAP(vkDestroyBuffer, c_destroy_buffer)
    MOEVK_SOAK_WRAP(vkCreateCommandPool, c_create_pool)
    MOEVK_SOAK_WRAP(vkDestroyCommandPool, c_destroy_pool)
    MOEVK_SOAK_WRAP(vkAllocateCommandBuffers, c_allocate_cbs)
    MOEVK_SOAK_WRAP(vkFreeCommandBuffers, c_free_cbs)
    MOEVK_SOAK_WRAP(vkCreateQueryPool, c_create_query)
    MOEVK_SOAK_WRAP(vkDestroyQueryPool, c_destroy_query)
    MOEVK_SOAK_WRAP(vkCreateSemaphore, c_create_semaphore)
    MOEVK_SOAK_WRAP(vkDestroySemaphore, c_destroy_semaphore)
    MOEVK_SOAK_WRAP(vkCreateFence, c_create_fence)
    MOEVK_SOAK_WRAP(vkDestroyFence, c_destroy_fence)
    MOEVK_SOAK_WRAP(vkCreateComputePipelines, c_create_pipelines)
    MOEVK_SOAK_WRAP(vkDestroyPipeline, c_destroy_pipeline)
#undef MOEVK_SOAK_WRAP
    if (std::strcmp(name, "vkGetDeviceProcAddr") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(&counting_device_proc);
    if (std::strcmp(name, "vkGetInstanceProcAddr") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(&counting_instance_proc);
    return nullptr;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_device_proc(VkDevice device, const char* name) {
    if (PFN_vkVoidFunction f = wrapped(name)) return f;
    return g_device_proc(device, name);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL counting_instance_proc(VkInstance instance,
                                                                const char* name) {
    if (PFN_vkVoidFunction f = wrapped(name)) return f;
    return vkGetInstanceProcAddr(instance, name);
}

// --- a Vulkan device of our own, lent to the engine --------------------------------------------

[[noreturn]] void fail(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::fprintf(stderr, "moe-soak: ");
    std::vfprintf(stderr, fmt, args);
    std::fprintf(stderr, "\n");
    va_end(args);
    std::exit(2);
}

void vk_check(VkResult r, const char* what) {
    if (r != VK_SUCCESS) fail("%s failed (VkResult %d)", what, int(r));
}

struct HostDevice {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t family = 0;
    std::string name;
};

// The first device (or the first whose name contains `want`) with a compute queue.
HostDevice make_device(const char* want) {
    HostDevice h;
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "moe-soak";
    app.apiVersion = moevk_host_device_api_version();
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    vk_check(vkCreateInstance(&ici, nullptr, &h.instance), "vkCreateInstance");
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(h.instance, &n, nullptr);
    std::vector<VkPhysicalDevice> devices(n);
    vkEnumeratePhysicalDevices(h.instance, &n, devices.data());
    for (VkPhysicalDevice d : devices) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(d, &p);
        if (want && *want && !std::strstr(p.deviceName, want)) continue;
        uint32_t nf = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(d, &nf, nullptr);
        std::vector<VkQueueFamilyProperties> families(nf);
        vkGetPhysicalDeviceQueueFamilyProperties(d, &nf, families.data());
        for (uint32_t f = 0; f < nf; ++f) {
            if (families[f].queueFlags & VK_QUEUE_COMPUTE_BIT) {
                h.physical = d;
                h.family = f;
                h.name = p.deviceName;
                break;
            }
        }
        if (h.physical) break;
    }
    if (!h.physical)
        fail("no Vulkan device with a compute queue%s%s", want ? " named " : "", want ? want : "");
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = h.family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    moevk_host_device_enable_features(&v12);
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &v12;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    vk_check(vkCreateDevice(h.physical, &dci, nullptr, &h.device), "vkCreateDevice");
    g_allocate =
        reinterpret_cast<PFN_vkAllocateMemory>(vkGetDeviceProcAddr(h.device, "vkAllocateMemory"));
    g_free = reinterpret_cast<PFN_vkFreeMemory>(vkGetDeviceProcAddr(h.device, "vkFreeMemory"));
    g_device_proc = vkGetDeviceProcAddr;
    auto load = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(
            vkGetDeviceProcAddr(h.device, name));
    };
    load(g_create_buffer, "vkCreateBuffer");
    load(g_destroy_buffer, "vkDestroyBuffer");
    load(g_create_pool, "vkCreateCommandPool");
    load(g_destroy_pool, "vkDestroyCommandPool");
    load(g_allocate_cbs, "vkAllocateCommandBuffers");
    load(g_free_cbs, "vkFreeCommandBuffers");
    load(g_create_query, "vkCreateQueryPool");
    load(g_destroy_query, "vkDestroyQueryPool");
    load(g_create_semaphore, "vkCreateSemaphore");
    load(g_destroy_semaphore, "vkDestroySemaphore");
    load(g_create_fence, "vkCreateFence");
    load(g_destroy_fence, "vkDestroyFence");
    load(g_create_pipelines, "vkCreateComputePipelines");
    load(g_destroy_pipeline, "vkDestroyPipeline");
    return h;
}

// --- the soak ----------------------------------------------------------------------------------

void api(moevk_status s, const char* what) {
    if (s != MOEVK_OK) fail("%s: %s: %s", what, moevk_status_name(s), moevk_last_error());
}

double rss_mib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    return 0.0;
}

double device_mib() {
    std::lock_guard<std::mutex> l(g_memory.lock);
    return double(g_memory.bytes) / (1024.0 * 1024.0);
}

struct Options {
    const char* model = nullptr;
    uint32_t tokens = 10000;
    uint32_t ctx = 512;
    uint32_t every = 1000;
    const char* vram_budget = "";
    const char* device = nullptr;
    double rss_slack_mib = 32.0;
};

void usage() {
    std::fprintf(stderr,
                 "usage: moe-soak -m MODEL [--tokens N] [--ctx N] [--every N] [--vram-budget B]\n"
                 "                [--device NAME] [--rss-slack MIB]\n");
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "-m" || a == "--model")
            o.model = value();
        else if (a == "--tokens")
            o.tokens = uint32_t(std::strtoul(value(), nullptr, 10));
        else if (a == "--ctx")
            o.ctx = uint32_t(std::strtoul(value(), nullptr, 10));
        else if (a == "--every")
            o.every = uint32_t(std::strtoul(value(), nullptr, 10));
        else if (a == "--vram-budget")
            o.vram_budget = value();
        else if (a == "--device")
            o.device = value();
        else if (a == "--rss-slack")
            o.rss_slack_mib = std::atof(value());
        else
            usage();
    }
    if (!o.model || o.tokens == 0 || o.ctx < 16 || o.every == 0) usage();
    return o;
}

int on_token(void* user, int32_t token, const char*, size_t) {
    if (token >= 0) ++*static_cast<uint32_t*>(user);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o = parse(argc, argv);
    HostDevice h = make_device(o.device ? o.device : std::getenv("MOEVK_DEVICE"));

    moevk_host_device hd = moevk_host_device_default();
    hd.get_instance_proc_addr = counting_instance_proc;
    hd.instance = h.instance;
    hd.physical_device = h.physical;
    hd.device = h.device;
    hd.queue_family = h.family;
    hd.queue_index = 0;
    moevk_engine* engine = nullptr;
    api(moevk_engine_create_on_device(&hd, &engine), "moevk_engine_create_on_device");

    moevk_model_options mo = moevk_model_options_default();
    mo.vram_budget = o.vram_budget;
    moevk_model* model = nullptr;
    api(moevk_model_load(engine, o.model, &mo, &model), "moevk_model_load");
    const moevk_tokenizer* tok = moevk_model_get_tokenizer(model);
    if (!tok) fail("%s has no tokenizer", o.model);

    moevk_session_options so = moevk_session_options_default();
    so.n_ctx = o.ctx;
    so.sampling.seed = 1;
    moevk_session* session = nullptr;
    api(moevk_session_create(model, &so, &session), "moevk_session_create");
    moevk_session_info info{sizeof(info)};
    api(moevk_session_get_info(session, &info), "moevk_session_get_info");

    const char* prompt_text = "The licence grants you the right to";
    std::vector<int32_t> prompt(256);
    size_t n_prompt = 0;
    api(moevk_tokenize(tok, prompt_text, std::strlen(prompt_text), MOEVK_TOKENIZE_DEFAULT_BOS,
                       prompt.data(), prompt.size(), &n_prompt),
        "moevk_tokenize");
    prompt.resize(n_prompt);
    api(moevk_session_feed_tokens(session, prompt.data(), prompt.size()),
        "moevk_session_feed_tokens");

    std::printf("moe-soak: %s on %s, context %u, %s; %u experts of %u have a slot\n", o.model,
                h.name.c_str(), info.n_ctx, *o.vram_budget ? o.vram_budget : "all experts resident",
                info.expert_slots, info.total_experts);
    // Device memory below is what the engine allocated from the driver (arena blocks of 256 MiB
    // or more); the plan is what the session's weights, KV cache and slots take of it.
    std::printf("the session's plan: %.1f MiB of device memory\n",
                double(info.device_bytes) / (1024.0 * 1024.0));
    std::printf("%8s %10s %10s %8s %8s %8s %8s %8s\n", "tokens", "RSS MiB", "device MiB", "objects",
                "shifts", "rewinds", "resets", "tok/s");

    uint32_t generated = 0, shifts = 0, rewinds = 0, resets = 0, events = 0, next_report = o.every;
    double base_rss = 0, base_device = 0, worst_rss = 0, worst_device = 0;
    int64_t base_objects = 0, worst_objects = 0;
    bool have_base = false;
    moevk_session_stats stats{sizeof(stats)};
    while (generated < o.tokens) {
        moevk_generate_options go = moevk_generate_options_default();
        go.max_tokens = std::min(next_report, o.tokens) - generated;
        go.ignore_eog = 1;
        go.on_token = on_token;
        go.user = &generated;
        moevk_generation g{sizeof(g)};
        api(moevk_session_generate(session, &go, &g), "moevk_session_generate");
        if (g.end == MOEVK_END_CONTEXT_FULL) {
            // Make room: shift, rewind, reset in turn.
            switch (events++ % 3) {
                case 0: {  // keep the first half and evaluate its last token again for logits
                    std::vector<int32_t> history(info.n_ctx);
                    size_t n = 0;
                    api(moevk_session_get_tokens(session, history.data(), history.size(), &n),
                        "get_tokens");
                    uint32_t keep = uint32_t(n / 2);
                    api(moevk_session_truncate(session, keep - 1), "moevk_session_truncate");
                    api(moevk_session_feed_tokens(session, &history[keep - 1], 1),
                        "moevk_session_feed_tokens");
                    ++shifts;
                    break;
                }
                case 1:  // back to the prompt
                    api(moevk_session_truncate(session, uint32_t(prompt.size() - 1)),
                        "moevk_session_truncate");
                    api(moevk_session_feed_tokens(session, &prompt.back(), 1),
                        "moevk_session_feed_tokens");
                    ++rewinds;
                    break;
                default:
                    api(moevk_session_reset(session), "moevk_session_reset");
                    api(moevk_session_feed_tokens(session, prompt.data(), prompt.size()),
                        "moevk_session_feed_tokens");
                    ++resets;
            }
        } else if (g.end != MOEVK_END_LENGTH) {
            fail("the generation ended by %s", moevk_end_reason_name(g.end));
        }
        if (generated >= next_report || generated >= o.tokens) {
            api(moevk_session_get_stats(session, &stats), "moevk_session_get_stats");
            double rss = rss_mib(), dev = device_mib();
            double tps = stats.generate_seconds > 0
                             ? double(stats.generated_tokens) / stats.generate_seconds
                             : 0;
            int64_t objects = g_objects.load();
            std::printf("%8u %10.1f %10.1f %8lld %8u %8u %8u %8.1f\n", generated, rss, dev,
                        (long long)objects, shifts, rewinds, resets, tps);
            std::fflush(stdout);
            if (!have_base) {
                base_rss = rss;
                base_device = dev;
                base_objects = objects;
                have_base = true;
            }
            worst_rss = std::max(worst_rss, rss - base_rss);
            worst_device = std::max(worst_device, dev - base_device);
            worst_objects = std::max(worst_objects, objects - base_objects);
            next_report += o.every;
        }
    }
    api(moevk_session_get_stats(session, &stats), "moevk_session_get_stats");
    if (stats.expert_hits + stats.expert_misses)
        std::printf("paging: %llu hits, %llu misses, %.1f MiB uploaded\n",
                    (unsigned long long)stats.expert_hits, (unsigned long long)stats.expert_misses,
                    double(stats.bytes_uploaded) / (1024.0 * 1024.0));
    std::printf("device memory: %.1f MiB at the first report, peak %.1f MiB, %llu allocations\n",
                base_device, double(g_memory.peak) / (1024.0 * 1024.0),
                (unsigned long long)g_memory.allocations);
    bool ok = worst_device <= 0.0 && worst_objects <= 0 && worst_rss <= o.rss_slack_mib;
    std::printf(
        "moe-soak: %s: growth after the first report: RSS %+.1f MiB (at most %.0f), device %+.1f "
        "MiB, "
        "Vulkan objects %+lld (none)\n",
        ok ? "PASS" : "FAIL", worst_rss, o.rss_slack_mib, worst_device, (long long)worst_objects);

    moevk_session_destroy(session);
    moevk_model_destroy(model);
    moevk_engine_destroy(engine);
    // Everything the engine made must be gone with it.
    bool clean = device_mib() == 0.0 && g_objects.load() == 0;
    std::printf(
        "moe-soak: %s: after destroying the engine: device memory %.1f MiB, Vulkan objects %lld\n",
        clean ? "PASS" : "FAIL", device_mib(), (long long)g_objects.load());
    ok = ok && clean;
    vkDestroyDevice(h.device, nullptr);
    vkDestroyInstance(h.instance, nullptr);
    return ok ? 0 : 1;
}
