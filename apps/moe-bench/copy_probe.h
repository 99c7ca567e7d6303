// The device's practical copy bandwidth, from a shader that copies a large buffer.
#pragma once

#include "gpu/context.h"
#include "timing.h"

namespace moebench {

struct ProbeResult {
    double bytes_per_copy = 0;  // read + written
    Summary seconds;
    double gbps() const { return bytes_per_copy / seconds.median / 1e9; }
};

ProbeResult measure_copy_bandwidth(moevk::gpu::Context& ctx, double min_seconds);

// Host-to-device bandwidth as expert paging sees it: a copy from host-visible memory into a
// device buffer on the transfer queue, wall clock per submit and wait. bytes_per_copy counts
// the bytes moved once.
ProbeResult measure_upload_bandwidth(moevk::gpu::Context& ctx, double min_seconds);

}  // namespace moebench
