// gpt-oss replies split by channel (text/harmony_reply.h) for hosts.
#include "api/guard.h"
#include "api/handles.h"

using namespace moevk;
using namespace moevk::api;

namespace {

moevk_channel to_c(text::Channel c) {
    switch (c) {
        case text::Channel::Analysis: return MOEVK_CHANNEL_ANALYSIS;
        case text::Channel::Commentary: return MOEVK_CHANNEL_COMMENTARY;
        case text::Channel::Final: return MOEVK_CHANNEL_FINAL;
        case text::Channel::Other: return MOEVK_CHANNEL_OTHER;
    }
    return MOEVK_CHANNEL_OTHER;
}

void deliver(const std::vector<text::HarmonyReply::Piece>& pieces, moevk_channel_callback on_text, void* user) {
    for (const text::HarmonyReply::Piece& p : pieces) on_text(user, to_c(p.channel), p.text.c_str(), p.text.size());
}

}  // namespace

extern "C" {

const char* moevk_channel_name(moevk_channel channel) {
    switch (channel) {
        case MOEVK_CHANNEL_ANALYSIS: return "analysis";
        case MOEVK_CHANNEL_COMMENTARY: return "commentary";
        case MOEVK_CHANNEL_FINAL: return "final";
        case MOEVK_CHANNEL_OTHER: return "other";
    }
    return "unknown channel";
}

moevk_status moevk_harmony_create(moevk_harmony** harmony) {
    return guard([&] {
        moevk_harmony*& out = need(harmony, "moevk_harmony_create", "harmony");
        out = nullptr;
        out = new moevk_harmony{};
    });
}

void moevk_harmony_destroy(moevk_harmony* harmony) { delete harmony; }

moevk_status moevk_harmony_feed(moevk_harmony* harmony, const char* text, size_t length,
                                moevk_channel_callback on_text, void* user) {
    return guard([&] {
        const char* fn = "moevk_harmony_feed";
        moevk_harmony& h = need(harmony, fn, "harmony");
        need(on_text, fn, "on_text");
        if (length > 0) need(text, fn, "text");
        deliver(h.reply.feed(std::string_view(text ? text : "", length)), on_text, user);
    });
}

moevk_status moevk_harmony_finish(moevk_harmony* harmony, moevk_end_reason end, moevk_channel_callback on_text,
                                  void* user) {
    return guard([&] {
        const char* fn = "moevk_harmony_finish";
        moevk_harmony& h = need(harmony, fn, "harmony");
        need(on_text, fn, "on_text");
        if (end < MOEVK_END_NONE || end > MOEVK_END_ERROR)
            throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": end is " + std::to_string(int(end)) +
                                                        " (a moevk_end_reason, 0 to 6)");
        bool closed = end == MOEVK_END_EOG || end == MOEVK_END_STOP_STRING;
        using End = text::HarmonyReply::End;
        deliver(h.reply.finish(closed ? End::StopToken : End::Cut), on_text, user);
    });
}

moevk_status moevk_harmony_get_state(const moevk_harmony* harmony, moevk_harmony_state* state) {
    return guard([&] {
        const char* fn = "moevk_harmony_get_state";
        const text::HarmonyReply& r = need(harmony, fn, "harmony").reply;
        moevk_harmony_state s{sizeof(moevk_harmony_state)};
        s.final_ended = r.final_ended();
        s.done = r.done();
        s.channel = to_c(r.channel());
        copy_name(s.channel_name, r.channel_text());
        copy_name(s.recipient, r.recipient());
        write_struct(state, s, fn, "state");
    });
}

}  // extern "C"
