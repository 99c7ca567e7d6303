// Continuous batching: a BatchStep on a model, and one step of several sessions' generations.
#include <cstring>
#include <vector>

#include "api/conversions.h"
#include "api/guard.h"
#include "api/handles.h"
#include "runtime/batched_generation.h"

using namespace moevk;
using namespace moevk::api;

extern "C" {

moevk_status moevk_batch_create(moevk_model* model, uint32_t max_sessions, moevk_batch** batch) {
    return guard([&] {
        const char* fn = "moevk_batch_create";
        moevk_batch*& out = need(batch, fn, "batch");
        out = nullptr;
        std::shared_ptr<LoadedModel> m = need(model, fn, "model").model;
        auto b = std::make_unique<moevk_batch>();
        b->model = m;
        {
            // Sessions measure the arena while they are made: the batch's scratch must not land
            // in the middle of one.
            std::lock_guard<std::mutex> guard(*m->creation_lock);
            b->step = std::make_unique<runtime::BatchStep>(*m->context, *m->device, max_sessions);
        }
        out = b.release();
    });
}

void moevk_batch_destroy(moevk_batch* batch) { delete batch; }

moevk_status moevk_batch_step(moevk_batch* batch, moevk_session* const* sessions, size_t count,
                              moevk_step_result* results) {
    const char* fn = "moevk_batch_step";
    std::vector<runtime::Generator*> generators;
    std::vector<runtime::AdvanceReport> reports;
    // results[] is an array of the caller's struct: its stride is the caller's struct_size.
    uint32_t stride = 0;
    moevk_status status = guard([&] {
        runtime::BatchStep& step = *need(batch, fn, "batch").step;
        if (count == 0) throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": count is 0");
        need(sessions, fn, "sessions");
        need(results, fn, "results");
        stride = results->struct_size;
        if (stride < sizeof(uint32_t) * 2)
            throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": results->struct_size is " +
                                                        std::to_string(stride) + " (set it to sizeof the struct)");
        for (size_t i = 0; i < count; ++i) {
            if (!sessions[i])
                throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": sessions[" + std::to_string(i) + "] is NULL");
            generators.push_back(sessions[i]->generator.get());
        }
        reports.resize(count);
        runtime::advance_together(step, generators, reports);
    });
    if (reports.empty()) return status;  // refused before anything ran
    return guard_then(status, [&] {
        for (size_t i = 0; i < count; ++i) {
            auto* at = reinterpret_cast<moevk_step_result*>(reinterpret_cast<char*>(results) + i * stride);
            at->struct_size = stride;
            write_struct(at, to_c(reports[i], generators[i]->last_result().end), fn, "results[i]");
        }
    });
}

}  // extern "C"
