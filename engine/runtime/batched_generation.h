// Continuous batching of generations: each call moves every started generation of a set of
// sessions by one forward step, and the generations whose step is one generated token share
// that step (BatchStep), so the MoE layers run once for all of them. A session still
// evaluating its prompt, or one that cannot join the batch (paged experts), takes a step of its
// own, blocking: one prompt step of at most its max_batch tokens.
//
// The tokens each generation samples and streams are those of its own advance(), bit for bit
// (BatchStep's header says why), so a server's replies do not depend on who else is served.
#pragma once

#include <span>

#include "runtime/batch_step.h"
#include "runtime/generator.h"

namespace moevk::runtime {

// reports[i] is what advance() would report for generations[i] (done and the new tokens; a
// generation not running reports done). The generations are distinct and on the batch's model
// (Error(InvalidArgument) before anything runs otherwise); one with a step in flight from
// advance() finishes that step alone. A generation whose step fails ends with
// GenerationEnd::Error and the others go on; then the first failure is rethrown once every
// generation has been moved.
void advance_together(BatchStep& batch, std::span<Generator* const> generations, std::span<AdvanceReport> reports);

}  // namespace moevk::runtime
