#include "runtime/batched_generation.h"

#include <exception>
#include <string>
#include <vector>

#include "gpu/error.h"

namespace moevk::runtime {

void advance_together(BatchStep& batch, std::span<Generator* const> generations, std::span<AdvanceReport> reports) {
    if (reports.size() != generations.size())
        throw Error(ErrorCode::InvalidArgument, "batch: " + std::to_string(generations.size()) +
                                                    " sessions and " + std::to_string(reports.size()) + " reports");
    for (size_t i = 0; i < generations.size(); ++i) {
        if (!generations[i]) throw Error(ErrorCode::InvalidArgument, "batch: session " + std::to_string(i) + " is null");
        for (size_t j = 0; j < i; ++j)
            if (generations[j] == generations[i])
                throw Error(ErrorCode::InvalidArgument, "batch: session " + std::to_string(i) +
                                                            " is the same session as session " + std::to_string(j));
        if (&generations[i]->session().model() != &batch.model())
            throw Error(ErrorCode::InvalidArgument,
                        "batch: session " + std::to_string(i) + " is on another model than the batch");
    }
    std::exception_ptr first_failure;
    auto failed = [&](AdvanceReport& report) {
        if (!first_failure) first_failure = std::current_exception();
        report.done = true;
    };

    // The generations whose step is one generated token join the batch; the rest step alone.
    std::vector<size_t> joined;
    for (size_t i = 0; i < generations.size(); ++i) {
        Generator& g = *generations[i];
        reports[i] = AdvanceReport{};
        if (!g.running()) {
            reports[i].done = true;
        } else if (g.batch_ready() && joined.size() < batch.max_sessions() && batch.refusal(g.session()).empty()) {
            joined.push_back(i);
        } else {
            try {
                reports[i] = g.advance(kUnbounded, true, true);
            } catch (...) {
                failed(reports[i]);
            }
        }
    }
    if (joined.empty()) {
        if (first_failure) std::rethrow_exception(first_failure);
        return;
    }

    std::vector<Session*> sessions;
    std::vector<uint32_t> tokens;
    for (size_t i : joined) {
        tokens.push_back(generations[i]->begin_batched_step());
        sessions.push_back(&generations[i]->session());
    }
    bool ran = true;
    try {
        batch.run(sessions, tokens);
    } catch (...) {
        ran = false;
        for (size_t i : joined) {
            try {
                generations[i]->fail_batched_step();
            } catch (...) {
            }
            failed(reports[i]);
        }
    }
    if (ran) {
        for (size_t i : joined) {
            try {
                reports[i] = generations[i]->finish_batched_step();
            } catch (...) {
                failed(reports[i]);
            }
        }
    }
    if (first_failure) std::rethrow_exception(first_failure);
}

}  // namespace moevk::runtime
