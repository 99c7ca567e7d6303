// The paging results as an SVG: per model, generation tokens/s and hit rate against the share
// of experts that got a slot, one line per policy and prefetch setting, with the upload bound
// (dashed) and Belady's hit rate (black, dashed).
#pragma once

#include <string>
#include <vector>

#include "paging_bench.h"

namespace moebench {

std::string paging_svg(const std::vector<PagingResult>& results);

}  // namespace moebench
