/* chat: one question to a model, the reply streamed to stdout. The smallest complete host of
 * the moe-vk C API: an engine on a device of its own, a model, a session, a chat turn.
 *
 *   chat MODEL.gguf "question" [max_tokens]
 *
 * Build against an installed moe-vk: cc chat.c $(pkg-config --cflags --libs moevk)
 */
#include <moevk/moevk.h>

#include <stdio.h>
#include <stdlib.h>

/* Prints the failed call and the library's message, and says so to the caller. */
static int failed(const char* what, moevk_status status) {
    if (status == MOEVK_OK) return 0;
    fprintf(stderr, "chat: %s: %s: %s\n", what, moevk_status_name(status), moevk_last_error());
    return 1;
}

/* Model loading: the fraction done, on one stderr line. Returning 1 goes on (0 cancels). */
static int on_progress(void* user, float fraction) {
    (void)user;
    fprintf(stderr, "\rloading %3d%%", (int)(fraction * 100.0f + 0.5f));
    if (fraction >= 1.0f) fputc('\n', stderr);
    return 1;
}

/* Each sampled token's text, as soon as it is whole UTF-8 (it may be "" while held back). */
static int on_token(void* user, int32_t token, const char* text, size_t length) {
    (void)user;
    (void)token;
    fwrite(text, 1, length, stdout);
    fflush(stdout);
    return 1; /* 0 would stop the generation */
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf \"question\" [max_tokens]\n", argv[0]);
        return 2;
    }
    const char* path = argv[1];
    const char* question = argv[2];
    uint32_t max_tokens = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 256;

    moevk_engine* engine = NULL;
    moevk_model* model = NULL;
    moevk_session* session = NULL;
    int status = 1;

    /* An engine on the best Vulkan device there is (discrete, then integrated, ... then CPU). */
    moevk_engine_options engine_options = moevk_engine_options_default();
    if (failed("engine", moevk_engine_create(&engine_options, &engine))) goto done;

    moevk_model_options model_options = moevk_model_options_default();
    model_options.progress = on_progress;
    if (failed(path, moevk_model_load(engine, path, &model_options, &model))) goto done;

    moevk_session_options session_options = moevk_session_options_default();
    session_options.n_ctx = 2048;
    if (failed("session", moevk_session_create(model, &session_options, &session))) goto done;

    /* The conversation, rendered with the model's own chat template and left open for the
     * assistant's turn. The template's stop strings apply to the generation that follows. */
    moevk_message conversation[] = {
        {MOEVK_ROLE_SYSTEM, "You are a helpful assistant."},
        {MOEVK_ROLE_USER, question},
    };
    moevk_chat_options chat_options = moevk_chat_options_default();
    if (failed("chat", moevk_session_feed_chat(session, conversation, 2, &chat_options))) goto done;

    moevk_generate_options generate = moevk_generate_options_default();
    generate.max_tokens = max_tokens;
    generate.on_token = on_token;
    moevk_generation result = {.struct_size = sizeof result};
    if (failed("generate", moevk_session_generate(session, &generate, &result))) goto done;

    printf("\n");
    fprintf(stderr, "[%u prompt tokens in %.2f s; %u generated at %.1f tokens/s; %s]\n", result.prompt_tokens,
            result.prompt_seconds, result.generated_tokens,
            result.generate_seconds > 0 ? result.generated_tokens / result.generate_seconds : 0.0,
            moevk_end_reason_name(result.end));
    status = 0;

done:
    /* Children first, though the library would keep the parents alive for them anyway. */
    moevk_session_destroy(session);
    moevk_model_destroy(model);
    moevk_engine_destroy(engine);
    return status;
}
