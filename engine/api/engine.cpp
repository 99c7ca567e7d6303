// Devices and engines: on a Vulkan device of the engine's own, or on the host's.
#include "api/guard.h"
#include "api/handles.h"
#include "moevk/moevk_vulkan.h"

using namespace moevk;
using namespace moevk::api;

namespace {

moevk_device_kind kind_of(gpu::DeviceKind kind) {
    switch (kind) {
        case gpu::DeviceKind::Discrete: return MOEVK_DEVICE_DISCRETE;
        case gpu::DeviceKind::Integrated: return MOEVK_DEVICE_INTEGRATED;
        case gpu::DeviceKind::Virtual: return MOEVK_DEVICE_VIRTUAL;
        case gpu::DeviceKind::Cpu: return MOEVK_DEVICE_CPU;
        default: return MOEVK_DEVICE_OTHER;
    }
}

moevk_device_info describe(const gpu::DeviceInfo& d, bool has_transfer_queue) {
    moevk_device_info info{sizeof(moevk_device_info)};
    copy_name(info.name, d.name);
    info.kind = kind_of(d.kind);
    info.vendor_id = d.vendor_id;
    info.api_version = d.api_version;
    info.device_local_bytes = d.device_local_bytes;
    info.subgroup_size = d.subgroup_size;
    info.has_timestamps = d.timestamp_period_ns > 0;
    info.has_transfer_queue = has_transfer_queue;
    return info;
}

moevk_engine* wrap(std::unique_ptr<gpu::Context> context) {
    return new moevk_engine{std::shared_ptr<gpu::Context>(std::move(context))};
}

}  // namespace

extern "C" {

moevk_status moevk_device_count(uint32_t* count) {
    return guard([&] {
        uint32_t& n = need(count, "moevk_device_count", "count");
        n = static_cast<uint32_t>(gpu::list_devices().size());
    });
}

moevk_status moevk_device_get_info(uint32_t index, moevk_device_info* info) {
    return guard([&] {
        need(info, "moevk_device_get_info", "info");
        std::vector<gpu::DeviceInfo> devices = gpu::list_devices();
        if (index >= devices.size())
            throw Error(ErrorCode::NoDevice, "moevk_device_get_info: device index " + std::to_string(index) +
                                                 " is out of range: " + std::to_string(devices.size()) +
                                                 " Vulkan device(s) present");
        // Whether a dedicated transfer queue exists is known once a device is made; the listing
        // does not create one.
        write_struct(info, describe(devices[index], false), "moevk_device_get_info", "info");
    });
}

moevk_engine_options moevk_engine_options_default(void) {
    moevk_engine_options o{sizeof(moevk_engine_options)};
    o.device_index = -1;
    return o;
}

moevk_status moevk_engine_create(const moevk_engine_options* options, moevk_engine** engine) {
    return guard([&] {
        moevk_engine*& out = need(engine, "moevk_engine_create", "engine");
        out = nullptr;
        moevk_engine_options o =
            read_struct(options, moevk_engine_options_default(), "moevk_engine_create", "options");
        gpu::ContextOptions co;
        if (o.device_index < -1)
            throw Error(ErrorCode::InvalidArgument, "moevk_engine_create: device_index " +
                                                        std::to_string(o.device_index) + " (use -1 for any)");
        if (o.device_index >= 0) co.device.index = static_cast<uint32_t>(o.device_index);
        if (o.device_name) co.device.name_contains = o.device_name;
        co.validation = o.validation != 0;
        if (o.on_validation_message) {
            moevk_message_callback callback = o.on_validation_message;
            void* user = o.validation_user;
            co.on_validation_message = [callback, user](const std::string& m) { callback(user, m.c_str()); };
        }
        out = wrap(gpu::Context::create(co));
    });
}

void moevk_engine_destroy(moevk_engine* engine) { delete engine; }

moevk_status moevk_engine_get_device_info(const moevk_engine* engine, moevk_device_info* info) {
    return guard([&] {
        const gpu::Context& ctx = *need(engine, "moevk_engine_get_device_info", "engine").context;
        write_struct(info, describe(ctx.info(), ctx.has_dedicated_transfer_queue()), "moevk_engine_get_device_info",
                     "info");
    });
}

int moevk_engine_owns_device(const moevk_engine* engine) { return engine && engine->context->owns_device(); }

moevk_host_device moevk_host_device_default(void) { return moevk_host_device{sizeof(moevk_host_device)}; }

moevk_status moevk_engine_create_on_device(const moevk_host_device* device, moevk_engine** engine) {
    return guard([&] {
        moevk_engine*& out = need(engine, "moevk_engine_create_on_device", "engine");
        out = nullptr;
        need(device, "moevk_engine_create_on_device", "device");
        moevk_host_device d = read_struct(device, moevk_host_device_default(), "moevk_engine_create_on_device", "device");
        if (!d.get_instance_proc_addr)
            throw Error(ErrorCode::InvalidArgument, "moevk_engine_create_on_device: get_instance_proc_addr is NULL");
        gpu::ExternalDevice ext;
        ext.instance = d.instance;
        ext.physical_device = d.physical_device;
        ext.device = d.device;
        ext.queue_family = d.queue_family;
        ext.queue_index = d.queue_index;
        ext.get_instance_proc_addr = d.get_instance_proc_addr;
        if (d.has_transfer_queue) ext.transfer_queue = std::make_pair(d.transfer_queue_family, d.transfer_queue_index);
        if (d.lock_queue || d.unlock_queue) {
            if (!d.lock_queue || !d.unlock_queue)
                throw Error(ErrorCode::InvalidArgument,
                            "moevk_engine_create_on_device: pass both lock_queue and unlock_queue, or neither");
            moevk_queue_lock_callback lock = d.lock_queue, unlock = d.unlock_queue;
            void* user = d.queue_lock_user;
            ext.lock_queue = [lock, user](VkQueue q) { lock(user, q); };
            ext.unlock_queue = [unlock, user](VkQueue q) { unlock(user, q); };
        }
        out = wrap(gpu::Context::adopt(ext));
    });
}

void moevk_host_device_enable_features(VkPhysicalDeviceVulkan12Features* features) {
    if (!features) return;
    features->bufferDeviceAddress = VK_TRUE;
    features->timelineSemaphore = VK_TRUE;
}

uint32_t moevk_host_device_api_version(void) { return VK_API_VERSION_1_2; }

const char* moevk_host_device_requirements(void) {
    return "Vulkan 1.2 with VkPhysicalDeviceVulkan12Features.bufferDeviceAddress and .timelineSemaphore enabled, "
           "and a queue family with VK_QUEUE_COMPUTE_BIT; no extensions";
}

}  // extern "C"
