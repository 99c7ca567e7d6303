// Errors the engine reports. The library never prints, aborts or exits: every failure is an
// Error with a message that names the call, value, file or tensor involved.
#pragma once

#include <stdexcept>
#include <string>

#include "gpu/vulkan.h"

namespace moevk {

enum class ErrorCode {
    InvalidArgument,  // a shape, count or option that does not fit
    NoDevice,         // no Vulkan device (or none matching the request)
    Vulkan,           // a Vulkan call failed
    OutOfMemory,      // a device or host allocation failed
    MissingShader,    // a shader name that the build did not embed
    BadFile,          // a model or vocabulary file that is malformed, truncated or inconsistent
    Unsupported,      // a well-formed file asking for something the engine does not do
    ContextFull,      // tokens that do not fit in a session's context
    Cancelled,        // a caller's callback asked to stop (a model load's progress)
    Busy,             // a session asked to do something while a started generation runs
};

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

const char* vk_result_name(VkResult result);

// Throws Error naming the failed call and where it was made.
void throw_vk_error(VkResult result, const char* call, const char* file, int line);

}  // namespace moevk

#define MOEVK_VK_CHECK(call)                                                     \
    do {                                                                         \
        VkResult moevk_result_ = (call);                                         \
        if (moevk_result_ != VK_SUCCESS)                                         \
            ::moevk::throw_vk_error(moevk_result_, #call, __FILE__, __LINE__);   \
    } while (0)
