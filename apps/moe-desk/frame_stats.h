// Frame times: the recent ones for the debug overlay's plot, and every frame's, by what the
// engine was doing, for the scripted mode's report.
#pragma once

#include <vector>

#include "frame_summary.h"  // examples/game

struct FrameStats {
    std::vector<float> recent;        // the last 240 frames, oldest first
    std::vector<double> generating;   // every frame during which a reply was being written
    std::vector<double> idle;         // every other frame once the model had loaded
    std::vector<double> step_call_ms; // time inside moevk_session_step itself

    void add(double ms, bool was_generating, bool had_model) {
        recent.push_back(float(ms));
        if (recent.size() > 240) recent.erase(recent.begin());
        if (was_generating) generating.push_back(ms);
        else if (had_model) idle.push_back(ms);
    }
};
