// The one include for Vulkan declarations: entry points come from volk, never from the loader
// directly, so each Context can hold its own device function table.
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <volk.h>
