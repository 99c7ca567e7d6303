// Status codes, this thread's last error, the version.
#include <new>
#include <string>

#include "api/guard.h"

namespace moevk::api {
namespace {

thread_local std::string last_error;

}  // namespace

moevk_status fail(moevk_status status, const std::string& message) {
    try {
        last_error = message;
    } catch (...) {
        // No memory for the message: the status still says what happened.
    }
    return status;
}

void clear_error() { last_error.clear(); }

const char* last_error_text() { return last_error.c_str(); }

moevk_status status_of(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument: return MOEVK_ERROR_INVALID_ARGUMENT;
        case ErrorCode::NoDevice: return MOEVK_ERROR_NO_DEVICE;
        case ErrorCode::Vulkan: return MOEVK_ERROR_VULKAN;
        case ErrorCode::OutOfMemory: return MOEVK_ERROR_OUT_OF_MEMORY;
        case ErrorCode::MissingShader: return MOEVK_ERROR_INTERNAL;
        case ErrorCode::BadFile: return MOEVK_ERROR_BAD_FILE;
        case ErrorCode::Unsupported: return MOEVK_ERROR_UNSUPPORTED;
        case ErrorCode::ContextFull: return MOEVK_ERROR_CONTEXT_FULL;
        case ErrorCode::Cancelled: return MOEVK_ERROR_CANCELLED;
        case ErrorCode::Busy: return MOEVK_ERROR_BUSY;
    }
    return MOEVK_ERROR_INTERNAL;
}

moevk_status status_of_current_exception() {
    try {
        throw;
    } catch (const ApiError& e) {
        return fail(e.status(), e.what());
    } catch (const Error& e) {
        return fail(status_of(e.code()), e.what());
    } catch (const std::bad_alloc&) {
        return fail(MOEVK_ERROR_OUT_OF_MEMORY, "out of host memory");
    } catch (const std::exception& e) {
        return fail(MOEVK_ERROR_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return fail(MOEVK_ERROR_INTERNAL, "internal error: an unknown exception");
    }
}

void write_text(const std::string& text, char* out, size_t capacity, size_t* length, const char* function) {
    need(length, function, "length");
    *length = text.size();
    if (capacity > 0 && !out) throw Error(ErrorCode::InvalidArgument, std::string(function) + ": text is NULL");
    if (text.size() + 1 > capacity) {
        if (capacity > 0) {
            std::memcpy(out, text.data(), capacity - 1);
            out[capacity - 1] = '\0';
        }
        throw ApiError(MOEVK_ERROR_BUFFER_TOO_SMALL, std::string(function) + ": the text needs " +
                                                         std::to_string(text.size() + 1) + " bytes, the buffer has " +
                                                         std::to_string(capacity));
    }
    std::memcpy(out, text.data(), text.size());
    out[text.size()] = '\0';
}

void require_room(size_t needed, size_t capacity, const char* function, const char* what) {
    if (needed > capacity)
        throw ApiError(MOEVK_ERROR_BUFFER_TOO_SMALL, std::string(function) + ": " + std::to_string(needed) + " " +
                                                         what + " need room, the buffer has " + std::to_string(capacity));
}

void write_ids(const std::vector<uint32_t>& ids, int32_t* out, size_t capacity, size_t* count, const char* function,
               const char* what) {
    need(count, function, "count");
    if (capacity > 0) need(out, function, "tokens");
    *count = ids.size();
    for (size_t i = 0; i < std::min(capacity, ids.size()); ++i) out[i] = int32_t(ids[i]);
    require_room(ids.size(), capacity, function, (std::string("tokens of ") + what).c_str());
}

}  // namespace moevk::api

using namespace moevk::api;

#define MOEVK_STRINGIFY_(x) #x
#define MOEVK_STRINGIFY(x) MOEVK_STRINGIFY_(x)

extern "C" {

uint32_t moevk_version(void) { return MOEVK_VERSION; }

const char* moevk_version_string(void) {
    return MOEVK_STRINGIFY(MOEVK_VERSION_MAJOR) "." MOEVK_STRINGIFY(MOEVK_VERSION_MINOR) "." MOEVK_STRINGIFY(MOEVK_VERSION_PATCH);
}

const char* moevk_status_name(moevk_status status) {
    switch (status) {
        case MOEVK_OK: return "MOEVK_OK";
        case MOEVK_ERROR_INVALID_ARGUMENT: return "MOEVK_ERROR_INVALID_ARGUMENT";
        case MOEVK_ERROR_NO_DEVICE: return "MOEVK_ERROR_NO_DEVICE";
        case MOEVK_ERROR_VULKAN: return "MOEVK_ERROR_VULKAN";
        case MOEVK_ERROR_OUT_OF_MEMORY: return "MOEVK_ERROR_OUT_OF_MEMORY";
        case MOEVK_ERROR_BAD_FILE: return "MOEVK_ERROR_BAD_FILE";
        case MOEVK_ERROR_UNSUPPORTED: return "MOEVK_ERROR_UNSUPPORTED";
        case MOEVK_ERROR_CANCELLED: return "MOEVK_ERROR_CANCELLED";
        case MOEVK_ERROR_BUFFER_TOO_SMALL: return "MOEVK_ERROR_BUFFER_TOO_SMALL";
        case MOEVK_ERROR_BUSY: return "MOEVK_ERROR_BUSY";
        case MOEVK_ERROR_CONTEXT_FULL: return "MOEVK_ERROR_CONTEXT_FULL";
        case MOEVK_ERROR_INTERNAL: return "MOEVK_ERROR_INTERNAL";
    }
    return "MOEVK_ERROR_UNKNOWN";
}

const char* moevk_last_error(void) { return last_error_text(); }

}  // extern "C"
