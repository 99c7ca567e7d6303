/* The C API (include/moevk/moevk.h) driven from plain C11: every function at least once, and
 * the bad inputs a C host will pass sooner or later (NULL handles and out-pointers, a missing or
 * truncated file, a token id out of range, a full context, a short output buffer, a budget too
 * small, a cancelled load). After each error it checks the status, that moevk_last_error()
 * names what was wrong, and that the handle still works; after each success that the last error
 * is "". Every engine runs with the validation layer on and any message it reports is a failure.
 *
 * No test framework: CHECK prints file:line and counts, and the exit status is the count. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "moevk/moevk.h"
#include "moevk/moevk_vulkan.h"

#ifndef MOEVK_ASSETS_DIR
#error "MOEVK_ASSETS_DIR must name the repository's assets folder"
#endif
#ifndef MOEVK_TEST_TMP_DIR
#error "MOEVK_TEST_TMP_DIR must name a writable folder"
#endif

#define DEMO_MODEL MOEVK_ASSETS_DIR "/moe-vk-demo.gguf"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        ++checks;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        ++checks;                                                                    \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

/* The last error, copied at once: the library's pointer is valid only until the next call. */
static char last_message[8192];

static const char* copy_last_error(void) {
    const char* e = moevk_last_error();
    if (!e) {
        snprintf(last_message, sizeof last_message, "%s", "(moevk_last_error returned NULL)");
        return NULL;
    }
    snprintf(last_message, sizeof last_message, "%s", e);
    return last_message;
}

/* `got` must be `expected` (or `also`, when that is not MOEVK_OK). On success the last error
 * must be ""; on failure it must be non-empty and contain `needle` when one is given. */
static int check_status_at(const char* file, int line, const char* call, moevk_status got,
                           moevk_status expected, moevk_status also, const char* needle) {
    const char* message = copy_last_error();
    int ok = 1;
    ++checks;
    if (got != expected && !(also != MOEVK_OK && got == also)) {
        fprintf(stderr, "%s:%d: %s returned %s, expected %s%s%s; last error: \"%s\"\n", file, line,
                call, moevk_status_name(got), moevk_status_name(expected),
                also != MOEVK_OK ? " or " : "", also != MOEVK_OK ? moevk_status_name(also) : "",
                last_message);
        ++failures;
        return 0;
    }
    if (message == NULL) {
        fprintf(stderr, "%s:%d: %s: moevk_last_error() returned NULL\n", file, line, call);
        ++failures;
        return 0;
    }
    if (got == MOEVK_OK) {
        if (message[0] != '\0') {
            fprintf(stderr, "%s:%d: %s succeeded but moevk_last_error() is \"%s\", not \"\"\n",
                    file, line, call, message);
            ++failures;
            ok = 0;
        }
    } else {
        if (message[0] == '\0') {
            fprintf(stderr, "%s:%d: %s failed with %s but moevk_last_error() is empty\n", file,
                    line, call, moevk_status_name(got));
            ++failures;
            ok = 0;
        } else if (needle && !strstr(message, needle)) {
            fprintf(stderr, "%s:%d: %s: the message \"%s\" does not name \"%s\"\n", file, line,
                    call, message, needle);
            ++failures;
            ok = 0;
        }
    }
    return ok && got == expected;
}

#define EXPECT_OK(call) check_status_at(__FILE__, __LINE__, #call, (call), MOEVK_OK, MOEVK_OK, NULL)
/* A failure with `status` whose message contains `needle` (NULL: any non-empty message). */
#define EXPECT_STATUS(call, status, needle) \
    check_status_at(__FILE__, __LINE__, #call, (call), (status), MOEVK_OK, (needle))
/* Where the header does not say which of two statuses an error takes. */
#define EXPECT_STATUS2(call, status, other, needle) \
    check_status_at(__FILE__, __LINE__, #call, (call), (status), (other), (needle))

/* ---- validation messages ----------------------------------------------------------------------
 */

static int validation_messages = 0;

static void on_validation(void* user, const char* message) {
    int* count = (int*)user;
    ++*count;
    fprintf(stderr, "validation layer: %s\n", message ? message : "(NULL)");
}

static moevk_engine_options validated_engine_options(void) {
    moevk_engine_options o = moevk_engine_options_default();
    o.validation = 1;
    o.on_validation_message = on_validation;
    o.validation_user = &validation_messages;
    return o;
}

/* ---- helpers ------------------------------------------------------------------------------------
 */

static long file_size(const char* path) {
    FILE* f = fopen(path, "rb");
    long size;
    if (!f) return -1;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return -1;
    }
    size = ftell(f);
    fclose(f);
    return size;
}

/* Writes the first `bytes` of `from` to `to`; 1 on success. */
static int write_prefix(const char* from, const char* to, long bytes) {
    FILE* in = fopen(from, "rb");
    FILE* out;
    char* data;
    size_t got;
    int ok;
    if (!in) return 0;
    data = (char*)malloc((size_t)bytes);
    if (!data) {
        fclose(in);
        return 0;
    }
    got = fread(data, 1, (size_t)bytes, in);
    fclose(in);
    out = fopen(to, "wb");
    if (!out) {
        free(data);
        return 0;
    }
    ok = got == (size_t)bytes && fwrite(data, 1, got, out) == got;
    ok = fclose(out) == 0 && ok;
    free(data);
    return ok;
}

/* Seconds on the wall clock (C11 timespec_get), for bounding loops by time. */
static double now_seconds(void) {
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC) return 0.0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Tokenizes `text` (no BOS, no special tokens) into `ids`; returns the count (0 on failure). */
static size_t tokenize_plain(const moevk_tokenizer* tok, const char* text, int32_t* ids,
                             size_t capacity) {
    size_t n = 0;
    if (!EXPECT_OK(moevk_tokenize(tok, text, strlen(text), 0, ids, capacity, &n))) return 0;
    return n;
}

struct token_log {
    int32_t tokens[256];
    size_t count;     /* tokens streamed */
    int final_calls;  /* calls with token -1: the text held back at the end */
    int after_final;  /* calls that came after one with token -1 */
    int unterminated; /* texts without a NUL at text[length] */
    char text[4096];
    size_t text_length;
    int stop_after; /* return 0 from the callback once this many tokens came (0: never) */
};

static int on_token(void* user, int32_t token, const char* text, size_t length) {
    struct token_log* log = (struct token_log*)user;
    if (log->final_calls) ++log->after_final;
    if (!text || text[length] != '\0') ++log->unterminated;
    if (token == -1) {
        ++log->final_calls;
    } else {
        if (log->count < sizeof log->tokens / sizeof log->tokens[0])
            log->tokens[log->count] = token;
        ++log->count;
    }
    if (text && log->text_length + length < sizeof log->text) {
        memcpy(log->text + log->text_length, text, length);
        log->text_length += length;
        log->text[log->text_length] = '\0';
    }
    return !(token != -1 && log->stop_after && (int)log->count >= log->stop_after);
}

/* The callback's conventions held: NUL-terminated texts, at most one call with token -1 and
 * nothing after it. */
static void check_token_log(const struct token_log* log, const char* what) {
    CHECK_MSG(log->unterminated == 0, "%s: %d texts without their NUL", what, log->unterminated);
    CHECK_MSG(log->final_calls <= 1, "%s: %d calls with token -1", what, log->final_calls);
    CHECK_MSG(log->after_final == 0, "%s: %d calls after the one with token -1", what,
              log->after_final);
}

/* The session still works: one more token fed and one generated. */
static void check_session_works(moevk_session* session, int32_t token, const char* after) {
    moevk_generate_options g = moevk_generate_options_default();
    moevk_generation r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    g.max_tokens = 1;
    g.ignore_eog = 1;
    if (!EXPECT_OK(moevk_session_feed_tokens(session, &token, 1)))
        fprintf(stderr, "  (the session no longer takes input after %s)\n", after);
    if (!EXPECT_OK(moevk_session_generate(session, &g, &r)))
        fprintf(stderr, "  (the session no longer generates after %s)\n", after);
    CHECK_MSG(r.generated_tokens == 1, "after %s: generated %u tokens, expected 1", after,
              r.generated_tokens);
}

/* ---- version, names, defaults -----------------------------------------------------------------
 */

static void test_version_and_names(void) {
    static const char* const status_names[] = {"MOEVK_OK",
                                               "MOEVK_ERROR_INVALID_ARGUMENT",
                                               "MOEVK_ERROR_NO_DEVICE",
                                               "MOEVK_ERROR_VULKAN",
                                               "MOEVK_ERROR_OUT_OF_MEMORY",
                                               "MOEVK_ERROR_BAD_FILE",
                                               "MOEVK_ERROR_UNSUPPORTED",
                                               "MOEVK_ERROR_CANCELLED",
                                               "MOEVK_ERROR_BUFFER_TOO_SMALL",
                                               "MOEVK_ERROR_BUSY",
                                               "MOEVK_ERROR_CONTEXT_FULL",
                                               "MOEVK_ERROR_INTERNAL"};
    char expected_version[32];
    int i, j;
    const char* reasons[7];

    CHECK(moevk_version() == MOEVK_VERSION);
    CHECK(MOEVK_VERSION == 100);
    snprintf(expected_version, sizeof expected_version, "%d.%d.%d", MOEVK_VERSION_MAJOR,
             MOEVK_VERSION_MINOR, MOEVK_VERSION_PATCH);
    CHECK(moevk_version_string() != NULL);
    CHECK_MSG(moevk_version_string() && strcmp(moevk_version_string(), expected_version) == 0,
              "\"%s\" vs \"%s\"", moevk_version_string() ? moevk_version_string() : "(NULL)",
              expected_version);

    for (i = 0; i <= (int)MOEVK_ERROR_INTERNAL; ++i) {
        const char* name = moevk_status_name((moevk_status)i);
        CHECK_MSG(name && strcmp(name, status_names[i]) == 0,
                  "status %d is named \"%s\", expected \"%s\"", i, name ? name : "(NULL)",
                  status_names[i]);
    }
    for (i = 0; i <= (int)MOEVK_END_ERROR; ++i) {
        reasons[i] = moevk_end_reason_name((moevk_end_reason)i);
        CHECK_MSG(reasons[i] && reasons[i][0], "end reason %d has no name", i);
        for (j = 0; j < i; ++j)
            CHECK_MSG(!reasons[i] || !reasons[j] || strcmp(reasons[i], reasons[j]) != 0,
                      "end reasons %d and %d share the name \"%s\"", i, j, reasons[i]);
    }

    /* Host-device requirements, as the header states them. */
    CHECK(moevk_host_device_api_version() >= VK_API_VERSION_1_2);
    CHECK(moevk_host_device_requirements() != NULL);
    if (moevk_host_device_requirements()) {
        CHECK(strstr(moevk_host_device_requirements(), "bufferDeviceAddress") != NULL);
        CHECK(strstr(moevk_host_device_requirements(), "timelineSemaphore") != NULL);
    }

    /* enable_features turns on the two features and leaves every other field as it was. */
    {
        VkPhysicalDeviceVulkan12Features f, expected;
        memset(&f, 0, sizeof f);
        f.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
        f.shaderFloat16 = VK_TRUE;
        f.hostQueryReset = VK_TRUE;
        expected = f;
        expected.bufferDeviceAddress = VK_TRUE;
        expected.timelineSemaphore = VK_TRUE;
        moevk_host_device_enable_features(&f);
        CHECK(f.bufferDeviceAddress == VK_TRUE && f.timelineSemaphore == VK_TRUE);
        CHECK_MSG(memcmp(&f, &expected, sizeof f) == 0,
                  "other fields of the feature struct changed");
        /* Already on stays on; a host's own choices stay. */
        moevk_host_device_enable_features(&f);
        CHECK(memcmp(&f, &expected, sizeof f) == 0);
    }
}

static void test_defaults(void) {
    moevk_engine_options e = moevk_engine_options_default();
    moevk_model_options m = moevk_model_options_default();
    moevk_sampling s = moevk_sampling_default();
    moevk_session_options so = moevk_session_options_default();
    moevk_generate_options g = moevk_generate_options_default();
    moevk_chat_options c = moevk_chat_options_default();
    moevk_host_device h = moevk_host_device_default();

    CHECK(e.struct_size == sizeof e);
    CHECK(e.device_index == -1);
    CHECK(e.device_name == NULL);
    CHECK(e.validation == 0);
    CHECK(m.struct_size == sizeof m);
    CHECK(m.vram_budget == NULL || m.vram_budget[0] == '\0');
    CHECK(m.cache_policy == MOEVK_CACHE_LRU);
    CHECK(m.prefetch == 1);
    CHECK(m.kv_format == MOEVK_KV_F32);
    CHECK(m.progress == NULL);
    CHECK(s.struct_size == sizeof s);
    CHECK(fabsf(s.temperature - 0.8f) < 1e-6f);
    CHECK(s.top_k == 40);
    CHECK(fabsf(s.top_p - 0.95f) < 1e-6f);
    CHECK(fabsf(s.min_p - 0.05f) < 1e-6f);
    CHECK(s.repeat_penalty == 1.0f);
    CHECK(s.frequency_penalty == 0.0f);
    CHECK(s.presence_penalty == 0.0f);
    CHECK(s.penalty_last_n == 64);
    CHECK(so.struct_size == sizeof so);
    CHECK(so.n_ctx == 0);
    CHECK(so.max_batch == 256);
    CHECK(so.record_experts == 1);
    CHECK(so.sampling.struct_size == sizeof so.sampling);
    CHECK(so.sampling.temperature == s.temperature && so.sampling.top_k == s.top_k);
    CHECK(g.struct_size == sizeof g);
    CHECK(g.stop_strings == NULL && g.n_stop_strings == 0);
    CHECK(g.ignore_eog == 0);
    CHECK(g.on_token == NULL);
    CHECK(c.struct_size == sizeof c);
    CHECK(c.template_name == NULL);
    CHECK(c.add_generation_prompt == 1);
    CHECK(h.struct_size == sizeof h);
}

/* ---- devices and engines --------------------------------------------------------------------- */

static void test_devices(void) {
    uint32_t count = 0;
    moevk_device_info info;
    char index_text[16];

    EXPECT_STATUS(moevk_device_count(NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_device_count(&count));
    CHECK_MSG(count >= 1, "no Vulkan device (the tests need lavapipe at least)");
    if (count == 0) return;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(moevk_device_get_info(0, &info));
    CHECK(info.name[0] != '\0');
    CHECK(memchr(info.name, '\0', sizeof info.name) != NULL);
    CHECK(info.api_version >= VK_API_VERSION_1_2);
    CHECK(info.device_local_bytes > 0);
    CHECK((int)info.kind >= (int)MOEVK_DEVICE_DISCRETE &&
          (int)info.kind <= (int)MOEVK_DEVICE_OTHER);

    EXPECT_STATUS(moevk_device_get_info(0, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    snprintf(index_text, sizeof index_text, "%u", count + 3);
    /* The header lets an index past the end be either: a value out of range, or no device
     * matching the request. */
    EXPECT_STATUS2(moevk_device_get_info(count + 3, &info), MOEVK_ERROR_INVALID_ARGUMENT,
                   MOEVK_ERROR_NO_DEVICE, index_text);
    EXPECT_OK(moevk_device_count(&count)); /* clears the error */
}

static void test_engine_errors(void) {
    moevk_engine_options o = validated_engine_options();
    moevk_engine* engine = NULL;
    moevk_host_device h = moevk_host_device_default();
    uint32_t count = 0;
    char index_text[16];

    EXPECT_STATUS(moevk_engine_create(&o, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    o.device_name = "no-such-device-x9";
    EXPECT_STATUS(moevk_engine_create(&o, &engine), MOEVK_ERROR_NO_DEVICE, "no-such-device-x9");
    CHECK(engine == NULL);

    EXPECT_OK(moevk_device_count(&count));
    o = validated_engine_options();
    o.device_index = (int32_t)count + 5;
    snprintf(index_text, sizeof index_text, "%u", count + 5);
    EXPECT_STATUS2(moevk_engine_create(&o, &engine), MOEVK_ERROR_NO_DEVICE,
                   MOEVK_ERROR_INVALID_ARGUMENT, index_text);
    CHECK(engine == NULL);

    EXPECT_STATUS(moevk_engine_create_on_device(NULL, &engine), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    /* The default description has no loader entry point and no device. */
    EXPECT_STATUS(moevk_engine_create_on_device(&h, &engine), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    CHECK(engine == NULL);
    EXPECT_STATUS(moevk_engine_get_device_info(NULL, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* NULL is ignored by every destroy function. */
    moevk_engine_destroy(NULL);
    moevk_model_destroy(NULL);
    moevk_tokenizer_destroy(NULL);
    moevk_detokenizer_destroy(NULL);
    moevk_session_destroy(NULL);
}

/* ---- models ------------------------------------------------------------------------------------
 */

struct progress_log {
    int calls;
    int cancel_at; /* return 0 on this call (1-based; 0: never) */
    float first, last;
    int monotonic, in_range;
};

static int on_progress(void* user, float fraction) {
    struct progress_log* p = (struct progress_log*)user;
    ++p->calls;
    if (p->calls == 1)
        p->first = fraction;
    else if (fraction < p->last)
        p->monotonic = 0;
    if (!(fraction >= 0.0f && fraction <= 1.0f)) p->in_range = 0;
    p->last = fraction;
    return !(p->cancel_at && p->calls >= p->cancel_at);
}

static void test_model_load_errors(moevk_engine* engine) {
    moevk_model_options mo = moevk_model_options_default();
    moevk_model* model = NULL;
    moevk_model_info info;
    struct progress_log cancel = {0, 1, 0.0f, 0.0f, 1, 1};
    const char* missing = MOEVK_TEST_TMP_DIR "/no-such-model-4711.gguf";
    const char* half = MOEVK_TEST_TMP_DIR "/test_api_c-half.gguf";
    const char* header = MOEVK_TEST_TMP_DIR "/test_api_c-header.gguf";
    long size = file_size(DEMO_MODEL);

    EXPECT_STATUS(moevk_model_load(NULL, DEMO_MODEL, &mo, &model), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);
    EXPECT_STATUS(moevk_model_load(engine, NULL, &mo, &model), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_model_load(engine, DEMO_MODEL, &mo, NULL), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);
    EXPECT_STATUS(moevk_model_load(engine, missing, &mo, &model), MOEVK_ERROR_BAD_FILE,
                  "no-such-model-4711.gguf");
    CHECK(model == NULL);

    /* Truncated copies: half the file (tensor data cut off) and its first 100 bytes (metadata cut
     * off). */
    CHECK_MSG(size > 1000000, "the demo model is missing or short: %ld bytes", size);
    CHECK(write_prefix(DEMO_MODEL, half, size / 2));
    CHECK(write_prefix(DEMO_MODEL, header, 100));
    EXPECT_STATUS(moevk_model_load(engine, half, &mo, &model), MOEVK_ERROR_BAD_FILE,
                  "test_api_c-half.gguf");
    CHECK(model == NULL);
    EXPECT_STATUS(moevk_model_load(engine, header, &mo, &model), MOEVK_ERROR_BAD_FILE,
                  "test_api_c-header.gguf");
    CHECK(model == NULL);

    /* A progress callback that says stop at once. */
    mo.progress = on_progress;
    mo.progress_user = &cancel;
    EXPECT_STATUS(moevk_model_load(engine, DEMO_MODEL, &mo, &model), MOEVK_ERROR_CANCELLED, NULL);
    CHECK(model == NULL);
    CHECK_MSG(cancel.calls == 1, "the progress callback was called %d times after it said stop",
              cancel.calls);

    /* The engine still loads models after all that. */
    mo = moevk_model_options_default();
    if (EXPECT_OK(moevk_model_load(engine, DEMO_MODEL, &mo, &model))) {
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        EXPECT_OK(moevk_model_get_info(model, &info));
        CHECK(info.n_layers == 2);
        moevk_model_destroy(model);
    }
    remove(half);
    remove(header);
}

/* What assets/README.md says the demo model is. */
static void test_model_info(moevk_model* model) {
    moevk_model_info info;
    size_t i;
    int known_template = 0;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(moevk_model_get_info(model, &info));
    CHECK_MSG(strcmp(info.architecture, "llama") == 0, "architecture \"%s\"", info.architecture);
    CHECK(info.n_layers == 2);
    CHECK(info.d_model == 1024);
    CHECK(info.n_heads == 8);
    CHECK(info.n_kv_heads == 2);
    CHECK(info.n_experts == 8);
    CHECK(info.d_ff == 128);
    CHECK(info.top_k == 2);
    CHECK(info.n_shared_experts == 0);
    CHECK(info.n_vocab == 1024);
    CHECK(info.n_ctx_train > 0);
    CHECK_MSG(strcmp(info.expert_format, "q4_k") == 0, "expert format \"%s\"", info.expert_format);
    CHECK(info.description[0] != '\0');
    CHECK(info.file_bytes == (uint64_t)file_size(DEMO_MODEL));
    CHECK(info.device_bytes > 0);
    CHECK(info.experts_paged == 0);
    CHECK_MSG(info.vocab_error[0] == '\0', "vocab_error \"%s\" on a model with a vocabulary",
              info.vocab_error);
    CHECK_MSG(info.chat_template[0] != '\0', "the demo model has a ChatML template");
    for (i = 0; moevk_chat_template_name(i); ++i)
        if (strcmp(moevk_chat_template_name(i), info.chat_template) == 0) known_template = 1;
    CHECK_MSG(known_template, "the model's template \"%s\" is not among moevk_chat_template_name()",
              info.chat_template);

    EXPECT_STATUS(moevk_model_get_info(NULL, &info), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_model_get_info(model, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    CHECK(moevk_model_get_tokenizer(NULL) == NULL);
    CHECK(moevk_model_get_tokenizer(model) != NULL);
    EXPECT_OK(moevk_model_get_info(model, &info));
}

static void test_progress(moevk_engine* engine) {
    moevk_model_options mo = moevk_model_options_default();
    struct progress_log p = {0, 0, 0.0f, 0.0f, 1, 1};
    moevk_model* model = NULL;
    mo.progress = on_progress;
    mo.progress_user = &p;
    EXPECT_OK(moevk_model_load(engine, DEMO_MODEL, &mo, &model));
    CHECK(model != NULL);
    CHECK(p.calls >= 1);
    CHECK(p.in_range);
    CHECK_MSG(p.monotonic, "the fraction went backwards");
    moevk_model_destroy(model);
}

/* ---- text --------------------------------------------------------------------------------------
 */

static void test_tokenizer(const moevk_tokenizer* tok) {
    moevk_vocab_info vi;
    int32_t ids[64], ids2[64];
    size_t n = 0, n2 = 0, len = 0, i;
    char text[512];
    const char* hello = "Hello world";
    int32_t im_start = -1, im_end = -1, with_bos[64];
    char sentinel[32];
    moevk_tokenizer* loaded = NULL;

    memset(&vi, 0, sizeof vi);
    vi.struct_size = sizeof vi;
    EXPECT_OK(moevk_tokenizer_get_info(tok, &vi));
    CHECK(vi.n_vocab == 1024);
    CHECK_MSG(strcmp(vi.kind, "gpt2") == 0, "kind \"%s\" (the demo vocabulary is byte-level BPE)",
              vi.kind);
    CHECK(vi.bos >= -1 && vi.bos < 1024);
    CHECK(vi.eos >= 0 && vi.eos < 1024);
    CHECK(vi.chat_template[0] != '\0');
    EXPECT_STATUS(moevk_tokenizer_get_info(NULL, &vi), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_tokenizer_get_info(tok, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Count first, then too small, then exactly right. */
    EXPECT_STATUS(moevk_tokenize(tok, hello, strlen(hello), 0, NULL, 0, &n),
                  MOEVK_ERROR_BUFFER_TOO_SMALL, NULL);
    CHECK(n >= 2 && n <= strlen(hello));
    EXPECT_STATUS(moevk_tokenize(tok, hello, strlen(hello), 0, ids, 1, &n2),
                  MOEVK_ERROR_BUFFER_TOO_SMALL, NULL);
    CHECK(n2 == n);
    EXPECT_OK(moevk_tokenize(tok, hello, strlen(hello), 0, ids, n, &n2));
    CHECK(n2 == n);
    for (i = 0; i < n; ++i) CHECK(ids[i] >= 0 && ids[i] < 1024);
    EXPECT_STATUS(moevk_tokenize(NULL, hello, strlen(hello), 0, ids, 64, &n2),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_tokenize(tok, NULL, 5, 0, ids, 64, &n2), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);
    EXPECT_STATUS(moevk_tokenize(tok, hello, strlen(hello), 0, ids, 64, NULL),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    /* `length` bytes, not up to a NUL: the first 5 bytes are "Hello". */
    EXPECT_OK(moevk_tokenize(tok, hello, 5, 0, ids2, 64, &n2));
    EXPECT_OK(moevk_detokenize(tok, ids2, n2, 0, text, sizeof text, &len));
    CHECK_MSG(len == 5 && strcmp(text, "Hello") == 0, "\"%s\"", text);

    /* BOS: ADD_BOS puts it first; DEFAULT_BOS only where the vocabulary asks for it. */
    if (vi.bos >= 0) {
        EXPECT_OK(
            moevk_tokenize(tok, hello, strlen(hello), MOEVK_TOKENIZE_ADD_BOS, with_bos, 64, &n2));
        CHECK(n2 == n + 1 && with_bos[0] == vi.bos &&
              memcmp(with_bos + 1, ids, n * sizeof ids[0]) == 0);
    }
    EXPECT_OK(
        moevk_tokenize(tok, hello, strlen(hello), MOEVK_TOKENIZE_DEFAULT_BOS, with_bos, 64, &n2));
    CHECK(n2 == n + (vi.add_bos ? 1u : 0u));

    /* Special tokens are parsed only when asked. */
    EXPECT_OK(moevk_tokenize(tok, "<|im_start|>", 12, MOEVK_TOKENIZE_PARSE_SPECIAL, ids2, 64, &n2));
    CHECK_MSG(n2 == 1, "<|im_start|> is %u tokens with PARSE_SPECIAL", (unsigned)n2);
    im_start = ids2[0];
    EXPECT_OK(moevk_tokenize(tok, "<|im_start|>", 12, 0, ids2, 64, &n2));
    CHECK_MSG(n2 > 1, "<|im_start|> is one token without PARSE_SPECIAL");
    EXPECT_OK(moevk_tokenize(tok, "<|im_end|>", 10, MOEVK_TOKENIZE_PARSE_SPECIAL, ids2, 64, &n2));
    CHECK(n2 == 1);
    im_end = ids2[0];

    /* Pieces: concatenated they are the text (byte-level BPE spells every byte). */
    text[0] = '\0';
    for (i = 0; i < n; ++i) {
        char piece[64];
        size_t plen = 0;
        EXPECT_OK(moevk_token_to_piece(tok, ids[i], 0, piece, sizeof piece, &plen));
        CHECK(plen == strlen(piece));
        strncat(text, piece, sizeof text - strlen(text) - 1);
    }
    CHECK_MSG(strcmp(text, hello) == 0, "pieces give \"%s\"", text);

    /* The output conventions, on "Hello world" (11 bytes): too small says how much and writes
     * nothing past the capacity; room for the NUL too gets the text and its NUL. Exactly 11 is
     * left open: the header's "a terminating NUL when it fits" reads either way (see the
     * report), so either success without the NUL or BUFFER_TOO_SMALL is taken. */
    {
        const size_t need = strlen(hello);
        moevk_status st;
        memset(sentinel, '#', sizeof sentinel);
        len = 0;
        EXPECT_STATUS(moevk_detokenize(tok, ids, n, 0, sentinel, 5, &len),
                      MOEVK_ERROR_BUFFER_TOO_SMALL, NULL);
        CHECK_MSG(len == need, "BUFFER_TOO_SMALL gave %u, needed %u", (unsigned)len,
                  (unsigned)need);
        CHECK_MSG(sentinel[5] == '#', "wrote past the capacity");

        memset(sentinel, '#', sizeof sentinel);
        len = 0;
        st = moevk_detokenize(tok, ids, n, 0, sentinel, need, &len);
        copy_last_error();
        CHECK_MSG(st == MOEVK_OK || st == MOEVK_ERROR_BUFFER_TOO_SMALL, "%s",
                  moevk_status_name(st));
        CHECK(len == need);
        CHECK_MSG(sentinel[need] == '#', "wrote past the capacity");
        if (st == MOEVK_OK)
            CHECK(memcmp(sentinel, hello, need) == 0 && last_message[0] == '\0');
        else
            CHECK(last_message[0] != '\0');

        memset(sentinel, '#', sizeof sentinel);
        len = 0;
        EXPECT_OK(moevk_detokenize(tok, ids, n, 0, sentinel, need + 1, &len));
        CHECK(len == need && strcmp(sentinel, hello) == 0);
        CHECK_MSG(sentinel[need + 1] == '#', "wrote past the capacity");
    }
    EXPECT_STATUS(moevk_token_to_piece(tok, 99999, 0, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, "99999");
    EXPECT_STATUS(moevk_token_to_piece(tok, -1, 0, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, "-1");
    EXPECT_STATUS(moevk_token_to_piece(tok, ids[0], 0, text, sizeof text, NULL),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Control tokens are "" unless rendered. */
    EXPECT_OK(moevk_token_to_piece(tok, im_start, 0, text, sizeof text, &len));
    CHECK_MSG(len == 0, "<|im_start|> prints \"%s\" without RENDER_SPECIAL", text);
    EXPECT_OK(
        moevk_token_to_piece(tok, im_start, MOEVK_TEXT_RENDER_SPECIAL, text, sizeof text, &len));
    CHECK_MSG(strcmp(text, "<|im_start|>") == 0, "\"%s\"", text);

    /* Detokenize: the whole text; too small says how much. */
    EXPECT_OK(moevk_detokenize(tok, ids, n, 0, text, sizeof text, &len));
    CHECK(len == strlen(hello) && strcmp(text, hello) == 0);
    EXPECT_STATUS(moevk_detokenize(tok, ids, n, 0, text, 3, &len), MOEVK_ERROR_BUFFER_TOO_SMALL,
                  NULL);
    CHECK(len == strlen(hello));
    EXPECT_STATUS(moevk_detokenize(tok, NULL, 3, 0, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_detokenize(NULL, ids, n, 0, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    ids2[0] = ids[0];
    ids2[1] = 5000;
    EXPECT_STATUS(moevk_detokenize(tok, ids2, 2, 0, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, "5000");

    /* End of generation. */
    CHECK(moevk_token_is_eog(tok, vi.eos) == 1);
    CHECK_MSG(moevk_token_is_eog(tok, im_end) == 1,
              "<|im_end|> (ChatML's end of turn) does not end generation");
    CHECK(moevk_token_is_eog(tok, ids[0]) == 0);
    CHECK(moevk_token_is_eog(tok, -1) == 0);
    CHECK(moevk_token_is_eog(tok, 1024) == 0);
    CHECK(moevk_token_is_eog(NULL, 0) == 0);

    /* The same vocabulary read from the file without a device. */
    EXPECT_STATUS(moevk_tokenizer_load(NULL, &loaded), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_tokenizer_load(DEMO_MODEL, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_tokenizer_load(MOEVK_TEST_TMP_DIR "/no-such-vocab-4711.gguf", &loaded),
                  MOEVK_ERROR_BAD_FILE, "no-such-vocab-4711.gguf");
    CHECK(loaded == NULL);
    if (EXPECT_OK(moevk_tokenizer_load(DEMO_MODEL, &loaded))) {
        EXPECT_OK(moevk_tokenize(loaded, hello, strlen(hello), 0, ids2, 64, &n2));
        CHECK(n2 == n && memcmp(ids2, ids, n * sizeof ids[0]) == 0);
        moevk_tokenizer_destroy(loaded);
    }
}

static void test_detokenizer(const moevk_tokenizer* tok) {
    /* U+20AC EURO SIGN, 3 bytes, which the demo's licence-text vocabulary has no merge for: it is
     * spelled in byte tokens, so a push in the middle of it must give "". */
    const char* euro = "\xE2\x82\xAC";
    int32_t ids[16];
    size_t n = tokenize_plain(tok, euro, ids, 16), i, len = 0;
    moevk_detokenizer* d = NULL;
    char out[64], all[64] = "";

    EXPECT_STATUS(moevk_detokenizer_create(NULL, 0, &d), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_detokenizer_create(tok, 0, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    if (!EXPECT_OK(moevk_detokenizer_create(tok, 0, &d))) return;
    CHECK_MSG(n >= 2, "the euro sign is %u token(s); the test wants it split", (unsigned)n);
    for (i = 0; i < n; ++i) {
        EXPECT_OK(moevk_detokenizer_push(d, ids[i], out, sizeof out, &len));
        if (i + 1 < n)
            CHECK_MSG(len == 0, "push %u of %u gave %u bytes of a split character", (unsigned)i,
                      (unsigned)n, (unsigned)len);
        strncat(all, out, sizeof all - strlen(all) - 1);
    }
    CHECK_MSG(strcmp(all, euro) == 0, "the pushes gave \"%s\"", all);
    EXPECT_OK(moevk_detokenizer_flush(d, out, sizeof out, &len));
    CHECK(len == 0);

    /* Half a character, then flush: U+FFFD, and the stream goes on. */
    if (n >= 2) {
        EXPECT_OK(moevk_detokenizer_push(d, ids[0], out, sizeof out, &len));
        CHECK(len == 0);
        EXPECT_OK(moevk_detokenizer_flush(d, out, sizeof out, &len));
        CHECK_MSG(len == 3 && memcmp(out, "\xEF\xBF\xBD", 3) == 0, "flush gave %u bytes",
                  (unsigned)len);
    }
    n = tokenize_plain(tok, "ok", ids, 16);
    all[0] = '\0';
    for (i = 0; i < n; ++i) {
        EXPECT_OK(moevk_detokenizer_push(d, ids[i], out, sizeof out, &len));
        strncat(all, out, sizeof all - strlen(all) - 1);
    }
    CHECK_MSG(strcmp(all, "ok") == 0, "after a flush the stream gave \"%s\"", all);

    EXPECT_STATUS(moevk_detokenizer_push(d, 4096, out, sizeof out, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, "4096");
    EXPECT_STATUS(moevk_detokenizer_push(NULL, ids[0], out, sizeof out, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_detokenizer_flush(NULL, out, sizeof out, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    /* Still streams after the errors. */
    EXPECT_OK(moevk_detokenizer_push(d, ids[0], out, sizeof out, &len));
    CHECK(len > 0);
    moevk_detokenizer_destroy(d);
}

/* A gpt-oss reply through the harmony splitter, in pieces that cut its tags: the text of each
 * channel, the state, and bad input. No device. */
struct channel_texts {
    char text[4][128];
    int calls;
};

static void on_channel_text(void* user, moevk_channel channel, const char* text, size_t length) {
    struct channel_texts* t = (struct channel_texts*)user;
    ++t->calls;
    if (channel >= MOEVK_CHANNEL_ANALYSIS && channel <= MOEVK_CHANNEL_OTHER && text[length] == '\0')
        strncat(t->text[channel], text, sizeof t->text[channel] - strlen(t->text[channel]) - 1);
}

static void test_harmony(void) {
    const char* reply =
        "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant to=x<|channel|>final"
        "<|message|>Answer.";
    struct channel_texts got;
    moevk_harmony* h = NULL;
    moevk_harmony_state state;
    size_t at, n = strlen(reply);

    memset(&got, 0, sizeof got);
    EXPECT_STATUS(moevk_harmony_create(NULL), MOEVK_ERROR_INVALID_ARGUMENT, "harmony");
    if (!EXPECT_OK(moevk_harmony_create(&h))) return;
    for (at = 0; at < n; at += 5)
        EXPECT_OK(moevk_harmony_feed(h, reply + at, n - at < 5 ? n - at : 5, on_channel_text, &got));
    memset(&state, 0, sizeof state);
    state.struct_size = sizeof state;
    EXPECT_OK(moevk_harmony_get_state(h, &state));
    CHECK(state.final_ended == 0 && state.done == 0);
    CHECK(state.channel == MOEVK_CHANNEL_FINAL);
    CHECK(strcmp(state.channel_name, "final") == 0);
    CHECK_MSG(strcmp(state.recipient, "x") == 0, "recipient \"%s\"", state.recipient);
    EXPECT_OK(moevk_harmony_finish(h, MOEVK_END_EOG, on_channel_text, &got));
    CHECK_MSG(strcmp(got.text[MOEVK_CHANNEL_ANALYSIS], "Think.") == 0, "analysis \"%s\"",
              got.text[MOEVK_CHANNEL_ANALYSIS]);
    CHECK_MSG(strcmp(got.text[MOEVK_CHANNEL_FINAL], "Answer.") == 0, "final \"%s\"",
              got.text[MOEVK_CHANNEL_FINAL]);
    CHECK(got.text[MOEVK_CHANNEL_COMMENTARY][0] == '\0' && got.text[MOEVK_CHANNEL_OTHER][0] == '\0');
    EXPECT_OK(moevk_harmony_get_state(h, &state));
    CHECK(state.final_ended == 1 && state.done == 1);
    CHECK(strcmp(moevk_channel_name(MOEVK_CHANNEL_FINAL), "final") == 0);
    CHECK(strcmp(moevk_channel_name(MOEVK_CHANNEL_ANALYSIS), "analysis") == 0);

    EXPECT_STATUS(moevk_harmony_feed(NULL, "x", 1, on_channel_text, &got), MOEVK_ERROR_INVALID_ARGUMENT,
                  "harmony");
    EXPECT_STATUS(moevk_harmony_feed(h, "x", 1, NULL, NULL), MOEVK_ERROR_INVALID_ARGUMENT, "on_text");
    EXPECT_STATUS(moevk_harmony_feed(h, NULL, 1, on_channel_text, &got), MOEVK_ERROR_INVALID_ARGUMENT,
                  "text");
    EXPECT_STATUS(moevk_harmony_finish(NULL, MOEVK_END_EOG, on_channel_text, &got),
                  MOEVK_ERROR_INVALID_ARGUMENT, "harmony");
    EXPECT_STATUS(moevk_harmony_get_state(h, NULL), MOEVK_ERROR_INVALID_ARGUMENT, "state");
    /* After the reply ended nothing more comes. */
    got.calls = 0;
    EXPECT_OK(moevk_harmony_feed(h, "late", 4, on_channel_text, &got));
    CHECK(got.calls == 0);
    moevk_harmony_destroy(h);
    moevk_harmony_destroy(NULL);
}

static void test_chat_render(const moevk_tokenizer* tok) {
    moevk_message conv[2];
    moevk_chat_options co = moevk_chat_options_default();
    char text[1024];
    size_t len = 0, need = 0, i, names = 0;

    conv[0].role = MOEVK_ROLE_SYSTEM;
    conv[0].content = "You are terse.";
    conv[1].role = MOEVK_ROLE_USER;
    conv[1].content = "What is a licence?";

    for (i = 0; moevk_chat_template_name(i); ++i) {
        CHECK(moevk_chat_template_name(i)[0] != '\0');
        ++names;
    }
    CHECK(names >= 1);

    if (EXPECT_OK(moevk_chat_render(tok, conv, 2, &co, text, sizeof text, &len))) {
        CHECK(len == strlen(text));
        CHECK(strstr(text, "What is a licence?") != NULL);
        CHECK(strstr(text, "You are terse.") != NULL);
        CHECK_MSG(strstr(text, "<|im_start|>user") != NULL, "no ChatML user turn in \"%s\"", text);
        /* An open assistant turn at the end. */
        CHECK_MSG(len >= 10 &&
                      strstr(text + len - 25 > text ? text + len - 25 : text, "assistant") != NULL,
                  "does not end with an assistant turn: \"%s\"", text);
    }
    need = len;
    EXPECT_STATUS(moevk_chat_render(tok, conv, 2, &co, text, 4, &len), MOEVK_ERROR_BUFFER_TOO_SMALL,
                  NULL);
    CHECK(len == need);

    co.add_generation_prompt = 0;
    EXPECT_OK(moevk_chat_render(tok, conv, 2, &co, text, sizeof text, &len));
    CHECK(len < need);

    co = moevk_chat_options_default();
    co.template_name = "no-such-template-x9";
    EXPECT_STATUS2(moevk_chat_render(tok, conv, 2, &co, text, sizeof text, &len),
                   MOEVK_ERROR_INVALID_ARGUMENT, MOEVK_ERROR_UNSUPPORTED, "no-such-template-x9");
    co.template_name = moevk_chat_template_name(0);
    EXPECT_OK(moevk_chat_render(tok, conv, 2, &co, text, sizeof text, &len));
    co = moevk_chat_options_default();
    EXPECT_STATUS(moevk_chat_render(tok, NULL, 2, &co, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_chat_render(NULL, conv, 2, &co, text, sizeof text, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_chat_render(tok, conv, 2, &co, text, sizeof text, &len));
}

/* ---- sessions ----------------------------------------------------------------------------------
 */

static moevk_session_options small_session(uint32_t n_ctx) {
    moevk_session_options so = moevk_session_options_default();
    so.n_ctx = n_ctx;
    so.max_batch = 64;
    so.sampling.seed = 1234;
    return so;
}

static void test_session(moevk_model* model, const moevk_tokenizer* tok) {
    moevk_session_options so = small_session(128);
    moevk_session* s = NULL;
    moevk_session_info info;
    moevk_generation r, last;
    moevk_generate_options g = moevk_generate_options_default();
    moevk_sampling sampling = moevk_sampling_default();
    struct token_log log;
    int32_t prompt[64], history[256], bad = 99999, t = 0;
    size_t n = tokenize_plain(tok, "The licence says that you may copy", prompt, 64), count = 0, i;
    const float* logits = NULL;
    uint32_t n_vocab = 0;
    int finite = 1;

    EXPECT_STATUS(moevk_session_create(NULL, &so, &s), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_create(model, &so, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    /* A batch past what one forward step holds: the limit is said in tokens. */
    so.max_batch = 0xFFFFFFFFu;
    EXPECT_STATUS(moevk_session_create(model, &so, &s), MOEVK_ERROR_INVALID_ARGUMENT, "tokens one forward step");
    CHECK(s == NULL);
    so.max_batch = 64;
    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) return;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.n_ctx == 128);
    CHECK(info.position == 0 && info.pending == 0);
    CHECK(info.paged == 0);
    CHECK(info.total_experts == 16);
    CHECK(info.expert_slots == 16);
    CHECK(info.device_bytes > 0);
    EXPECT_STATUS(moevk_session_get_info(NULL, &info), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_get_info(s, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Nothing evaluated yet: no logits to read or sample from. */
    EXPECT_STATUS(moevk_session_get_logits(s, &logits, &n_vocab), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);
    EXPECT_STATUS(moevk_session_sample(s, &t), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Token ids out of range, NULL input. */
    EXPECT_STATUS(moevk_session_feed_tokens(s, &bad, 1), MOEVK_ERROR_INVALID_ARGUMENT, "99999");
    bad = -1;
    EXPECT_STATUS(moevk_session_feed_tokens(s, &bad, 1), MOEVK_ERROR_INVALID_ARGUMENT, "-1");
    EXPECT_STATUS(moevk_session_eval(s, &bad, 1, NULL), MOEVK_ERROR_INVALID_ARGUMENT, "-1");
    EXPECT_STATUS(moevk_session_feed_tokens(s, NULL, 3), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_feed_tokens(NULL, prompt, 1), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK_MSG(info.position == 0 && info.pending == 0,
              "refused input was kept: position %u, pending %u", info.position, info.pending);

    /* Feed, then evaluate. */
    EXPECT_OK(moevk_session_feed_tokens(s, prompt, n));
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.pending == n && info.position == 0);
    EXPECT_OK(moevk_session_eval(s, NULL, 0, NULL));
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.pending == 0 && info.position == n);
    if (EXPECT_OK(moevk_session_get_logits(s, &logits, &n_vocab))) {
        CHECK(n_vocab == 1024 && logits != NULL);
        for (i = 0; logits && i < n_vocab; ++i)
            if (!isfinite(logits[i])) finite = 0;
        CHECK(finite);
    }
    EXPECT_STATUS(moevk_session_get_logits(s, NULL, &n_vocab), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_get_logits(NULL, &logits, &n_vocab), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);

    EXPECT_OK(moevk_session_sample(s, &t));
    CHECK(t >= 0 && t < 1024);
    EXPECT_STATUS(moevk_session_sample(s, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK_MSG(info.position == n && info.pending == 0, "sample() fed its token");

    /* The history, with the count-first convention. */
    EXPECT_STATUS(moevk_session_get_tokens(s, NULL, 0, &count), MOEVK_ERROR_BUFFER_TOO_SMALL, NULL);
    CHECK(count == n);
    EXPECT_OK(moevk_session_get_tokens(s, history, 256, &count));
    CHECK(count == n && memcmp(history, prompt, n * sizeof prompt[0]) == 0);
    EXPECT_STATUS(moevk_session_get_tokens(s, history, 256, NULL), MOEVK_ERROR_INVALID_ARGUMENT,
                  NULL);

    /* Sampling settings: bad values are refused and name the field. */
    sampling.top_p = 2.0f;
    EXPECT_STATUS(moevk_session_set_sampling(s, &sampling), MOEVK_ERROR_INVALID_ARGUMENT, "top_p");
    sampling = moevk_sampling_default();
    sampling.temperature = -1.0f;
    EXPECT_STATUS(moevk_session_set_sampling(s, &sampling), MOEVK_ERROR_INVALID_ARGUMENT,
                  "temperature");
    EXPECT_STATUS(moevk_session_set_sampling(s, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    sampling = moevk_sampling_default();
    sampling.seed = 99;
    EXPECT_OK(moevk_session_set_sampling(s, &sampling));

    /* A generation that runs to max_tokens, streaming each token. */
    memset(&log, 0, sizeof log);
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    g.max_tokens = 8;
    g.ignore_eog = 1;
    g.on_token = on_token;
    g.user = &log;
    EXPECT_OK(moevk_session_generate(s, &g, &r));
    CHECK_MSG(r.end == MOEVK_END_LENGTH, "end %s", moevk_end_reason_name(r.end));
    CHECK(r.generated_tokens == 8);
    CHECK(log.count == 8);
    check_token_log(&log, "generate");
    CHECK_MSG(r.prompt_tokens == 0, "%u prompt tokens, but nothing was pending", r.prompt_tokens);
    CHECK(r.generate_seconds > 0.0);
    memset(&last, 0, sizeof last);
    last.struct_size = sizeof last;
    EXPECT_OK(moevk_session_last_generation(s, &last));
    CHECK(last.end == r.end && last.generated_tokens == r.generated_tokens &&
          last.prompt_tokens == r.prompt_tokens);
    EXPECT_STATUS(moevk_session_last_generation(NULL, &last), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_last_generation(s, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* The history is the prompt then the streamed tokens; whatever is not in it is pending. */
    EXPECT_OK(moevk_session_get_info(s, &info));
    EXPECT_OK(moevk_session_get_tokens(s, history, 256, &count));
    CHECK(count == info.position);
    CHECK_MSG(info.position + info.pending == n + 8, "position %u + pending %u, expected %u",
              info.position, info.pending, (unsigned)(n + 8));
    CHECK(count >= n && memcmp(history, prompt, n * sizeof prompt[0]) == 0);
    for (i = n; i < count && i - n < log.count; ++i)
        CHECK_MSG(history[i] == log.tokens[i - n], "history[%u] = %d, streamed %d", (unsigned)i,
                  history[i], log.tokens[i - n]);

    /* result may be NULL; options and session may not. */
    g.on_token = NULL;
    g.max_tokens = 2;
    EXPECT_OK(moevk_session_generate(s, &g, NULL));
    EXPECT_STATUS(moevk_session_generate(NULL, &g, &r), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* A callback that says stop. */
    memset(&log, 0, sizeof log);
    log.stop_after = 2;
    g.on_token = on_token;
    g.user = &log;
    g.max_tokens = 10;
    EXPECT_OK(moevk_session_generate(s, &g, &r));
    CHECK(r.end == MOEVK_END_STOPPED);
    CHECK(log.count == 2);
    CHECK_MSG(log.final_calls == 0, "a call with token -1 after the callback said stop");
    check_token_log(&log, "stopped generate");
    CHECK(r.generated_tokens == 2);

    /* Truncate and reset. */
    EXPECT_OK(moevk_session_truncate(s, 3));
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.position == 3 && info.pending == 0);
    EXPECT_OK(moevk_session_get_tokens(s, history, 256, &count));
    CHECK(count == 3 && memcmp(history, prompt, 3 * sizeof prompt[0]) == 0);
    EXPECT_STATUS(moevk_session_truncate(NULL, 0), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_session_reset(s));
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.position == 0 && info.pending == 0);
    EXPECT_OK(moevk_session_get_tokens(s, NULL, 0, &count));
    CHECK(count == 0);
    EXPECT_STATUS(moevk_session_reset(NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* eval() with logits for each of its tokens. */
    {
        float* rows = (float*)malloc(n * 1024 * sizeof(float));
        if (rows) {
            EXPECT_OK(moevk_session_eval(s, prompt, n, rows));
            if (EXPECT_OK(moevk_session_get_logits(s, &logits, &n_vocab)))
                CHECK_MSG(memcmp(rows + (n - 1) * 1024, logits, 1024 * sizeof(float)) == 0,
                          "the last row of eval() is not get_logits()");
            free(rows);
        }
    }
    EXPECT_STATUS(moevk_session_eval(NULL, prompt, 1, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    check_session_works(s, prompt[0], "the errors above");
    moevk_session_destroy(s);
}

/* A conversation through the template: the history is the tokens of its rendering. */
static void test_feed_chat(moevk_model* model, const moevk_tokenizer* tok) {
    moevk_session_options so = small_session(256);
    moevk_session* s = NULL;
    moevk_message conv[1], broken[1];
    moevk_chat_options co = moevk_chat_options_default();
    moevk_generate_options g = moevk_generate_options_default();
    moevk_generation r;
    moevk_session_info info;
    char text[1024];
    int32_t expected[256], history[256];
    size_t len = 0, n = 0, count = 0;

    conv[0].role = MOEVK_ROLE_USER;
    conv[0].content = "May I copy it?";
    broken[0].role = MOEVK_ROLE_USER;
    broken[0].content = NULL;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) return;

    EXPECT_STATUS(moevk_session_feed_chat(NULL, conv, 1, &co), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_feed_chat(s, NULL, 1, &co), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_feed_chat(s, broken, 1, &co), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    co.template_name = "no-such-template-x9";
    EXPECT_STATUS2(moevk_session_feed_chat(s, conv, 1, &co), MOEVK_ERROR_INVALID_ARGUMENT,
                   MOEVK_ERROR_UNSUPPORTED, "no-such-template-x9");
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.position == 0 && info.pending == 0);

    co = moevk_chat_options_default();
    EXPECT_OK(moevk_chat_render(tok, conv, 1, &co, text, sizeof text, &len));
    EXPECT_OK(moevk_tokenize(tok, text, len, MOEVK_TOKENIZE_PARSE_SPECIAL, expected, 256, &n));
    EXPECT_OK(moevk_session_feed_chat(s, conv, 1, &co));
    g.max_tokens = 0;
    EXPECT_OK(moevk_session_generate(s, &g, &r));
    CHECK_MSG(r.prompt_tokens == n, "evaluated %u tokens of a %u-token rendering", r.prompt_tokens,
              (unsigned)n);
    EXPECT_OK(moevk_session_get_tokens(s, history, 256, &count));
    CHECK(count == n && memcmp(history, expected, n * sizeof expected[0]) == 0);
    /* The same conversation again: nothing new to evaluate. */
    EXPECT_OK(moevk_session_feed_chat(s, conv, 1, &co));
    EXPECT_OK(moevk_session_generate(s, &g, &r));
    CHECK_MSG(r.prompt_tokens <= 1, "the same conversation evaluated %u tokens again",
              r.prompt_tokens);
    check_session_works(s, expected[0], "feed_chat");
    moevk_session_destroy(s);
}

/* The library writes no byte past the struct_size it is given (the room later versions add
 * fields in): a smaller struct_size is either refused or filled only that far. */
static void test_struct_size(moevk_model* model) {
    moevk_session_options so = small_session(64);
    moevk_session* s = NULL;
    unsigned char buf[sizeof(moevk_session_info) + 16];
    moevk_session_info* info = (moevk_session_info*)(void*)buf;
    size_t i, size = offsetof(moevk_session_info, pending);
    int past = 0;
    moevk_status st;

    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) return;
    memset(buf, 0xAB, sizeof buf);
    info->struct_size = (uint32_t)size;
    st = moevk_session_get_info(s, info);
    copy_last_error();
    for (i = size; i < sizeof buf; ++i)
        if (buf[i] != 0xAB) past = 1;
    CHECK_MSG(!past, "moevk_session_get_info wrote past struct_size %u (%s)", (unsigned)size,
              moevk_status_name(st));
    if (st == MOEVK_OK)
        CHECK(info->n_ctx == 64 && info->position == 0);
    else
        CHECK_MSG(last_message[0] != '\0', "a refused struct_size without a message");

    moevk_session_destroy(s);
}

static void test_context_full(moevk_model* model, const moevk_tokenizer* tok) {
    moevk_session_options so = small_session(16);
    moevk_session* s = NULL;
    moevk_session_info info;
    moevk_generate_options g = moevk_generate_options_default();
    moevk_generation r;
    int32_t ids[64];
    size_t n = tokenize_plain(
        tok, "The licence says that you may copy and distribute verbatim copies of it", ids, 64);
    moevk_status st;

    CHECK_MSG(n > 16, "the long prompt is only %u tokens", (unsigned)n);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) return;

    /* Input that does not fit: refused when fed or when evaluated, naming the context size. */
    st = moevk_session_feed_tokens(s, ids, n);
    if (st == MOEVK_OK) {
        fprintf(
            stderr,
            "note: feeding %u tokens into a 16-token context succeeded; eval() must refuse them\n",
            (unsigned)n);
        EXPECT_STATUS(moevk_session_eval(s, NULL, 0, NULL), MOEVK_ERROR_CONTEXT_FULL, "16");
        /* Drop the refused input. */
        EXPECT_OK(moevk_session_truncate(s, 0));
    } else {
        EXPECT_STATUS(st, MOEVK_ERROR_CONTEXT_FULL, "16");
    }
    EXPECT_STATUS(moevk_session_eval(s, ids, 17, NULL), MOEVK_ERROR_CONTEXT_FULL, "16");
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK_MSG(info.position == 0, "the refused input moved the position to %u", info.position);

    /* A generation that runs into the end of the context ends, without an error. */
    EXPECT_OK(moevk_session_feed_tokens(s, ids, 6));
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    g.max_tokens = 100;
    g.ignore_eog = 1;
    EXPECT_OK(moevk_session_generate(s, &g, &r));
    CHECK_MSG(r.end == MOEVK_END_CONTEXT_FULL, "end %s", moevk_end_reason_name(r.end));
    CHECK(r.generated_tokens >= 9 && r.generated_tokens <= 10);
    EXPECT_OK(moevk_session_get_info(s, &info));
    CHECK(info.position <= 16);

    /* The session still works once there is room again. */
    EXPECT_OK(moevk_session_truncate(s, 4));
    check_session_works(s, ids[4], "a full context");
    moevk_session_destroy(s);
}

static void test_stats(moevk_model* model, const moevk_tokenizer* tok) {
    moevk_session_options so = small_session(64);
    moevk_session* s = NULL;
    moevk_session_stats st;
    moevk_layer_stats ls;
    moevk_session_info info;
    moevk_generate_options g = moevk_generate_options_default();
    int32_t ids[32];
    size_t n = tokenize_plain(tok, "You may copy it", ids, 32), len = 0;
    uint64_t counts[16], row;
    uint32_t experts[2 * 2 * 32], tokens = 0, l, e;
    char report[4096];

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) return;
    EXPECT_OK(moevk_session_feed_tokens(s, ids, n));
    g.max_tokens = 4;
    g.ignore_eog = 1;
    EXPECT_OK(moevk_session_generate(s, &g, NULL));

    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    EXPECT_OK(moevk_session_get_stats(s, &st));
    CHECK(st.prompt_tokens == n);
    CHECK(st.generated_tokens >= 3 && st.generated_tokens <= 4);
    CHECK(st.expert_misses == 0 && st.bytes_uploaded == 0);
    EXPECT_STATUS(moevk_session_get_stats(NULL, &st), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_get_stats(s, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    memset(&ls, 0, sizeof ls);
    ls.struct_size = sizeof ls;
    EXPECT_OK(moevk_session_get_layer_stats(s, 1, &ls));
    EXPECT_STATUS(moevk_session_get_layer_stats(s, 2, &ls), MOEVK_ERROR_INVALID_ARGUMENT, "2");
    EXPECT_STATUS(moevk_session_get_layer_stats(s, 0, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Each evaluated token went to top_k = 2 experts in each of the 2 layers. */
    EXPECT_OK(moevk_session_get_info(s, &info));
    EXPECT_OK(moevk_session_get_expert_counts(s, counts, 16));
    for (l = 0; l < 2; ++l) {
        row = 0;
        for (e = 0; e < 8; ++e) row += counts[l * 8 + e];
        CHECK_MSG(row == (uint64_t)info.position * 2, "layer %u: %llu routings for %u tokens", l,
                  (unsigned long long)row, info.position);
    }
    EXPECT_STATUS2(moevk_session_get_expert_counts(s, counts, 15), MOEVK_ERROR_BUFFER_TOO_SMALL,
                   MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_get_expert_counts(s, NULL, 16), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* The last step was one token of generation. */
    EXPECT_OK(
        moevk_session_get_last_experts(s, experts, sizeof experts / sizeof experts[0], &tokens));
    CHECK(tokens == 1);
    for (l = 0; l < 2; ++l) {
        CHECK(experts[l * 2] < 8 && experts[l * 2 + 1] < 8);
        CHECK(experts[l * 2] != experts[l * 2 + 1]);
    }
    EXPECT_STATUS2(moevk_session_get_last_experts(s, experts, 3, &tokens),
                   MOEVK_ERROR_BUFFER_TOO_SMALL, MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_STATUS(moevk_session_get_last_experts(NULL, experts, 64, &tokens),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Without paging the report may be empty, but the call works. */
    EXPECT_OK(moevk_session_paging_report(s, report, sizeof report, &len));
    CHECK(len == strlen(report));
    EXPECT_STATUS(moevk_session_paging_report(NULL, report, sizeof report, &len),
                  MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    EXPECT_OK(moevk_session_reset_stats(s));
    EXPECT_OK(moevk_session_get_stats(s, &st));
    CHECK(st.prompt_tokens == 0 && st.generated_tokens == 0);
    EXPECT_OK(moevk_session_get_expert_counts(s, counts, 16));
    for (e = 0; e < 16; ++e) CHECK(counts[e] == 0);
    EXPECT_STATUS(moevk_session_reset_stats(NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    moevk_session_destroy(s);
}

static void test_step_mode(moevk_model* model, const moevk_tokenizer* tok) {
    moevk_session_options so = small_session(64);
    moevk_session *a = NULL, *b = NULL;
    moevk_generate_options g = moevk_generate_options_default();
    moevk_step_result sr;
    moevk_generation r;
    struct token_log la, lb;
    int32_t ids[32];
    size_t n = tokenize_plain(tok, "Permission is granted", ids, 32);
    int steps = 0, done = 0;
    double deadline;

    if (!EXPECT_OK(moevk_session_create(model, &so, &a))) return;
    if (!EXPECT_OK(moevk_session_create(model, &so, &b))) {
        moevk_session_destroy(a);
        return;
    }
    memset(&la, 0, sizeof la);
    memset(&lb, 0, sizeof lb);
    g.max_tokens = 6;
    g.ignore_eog = 1;
    g.on_token = on_token;

    g.user = &la;
    EXPECT_OK(moevk_session_feed_tokens(a, ids, n));
    EXPECT_OK(moevk_session_generate(a, &g, NULL));

    g.user = &lb;
    EXPECT_OK(moevk_session_feed_tokens(b, ids, n));
    EXPECT_STATUS(moevk_session_start(NULL, &g), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    EXPECT_OK(moevk_session_start(b, &g));
    /* Busy until the started generation ends. */
    EXPECT_STATUS(moevk_session_feed_tokens(b, ids, 1), MOEVK_ERROR_BUSY, NULL);
    EXPECT_STATUS(moevk_session_generate(b, &g, NULL), MOEVK_ERROR_BUSY, NULL);
    EXPECT_STATUS(moevk_session_start(b, &g), MOEVK_ERROR_BUSY, NULL);
    memset(&sr, 0, sizeof sr);
    sr.struct_size = sizeof sr;
    deadline = now_seconds() + 120.0;
    while (!done && now_seconds() < deadline) {
        moevk_status st = moevk_session_step(b, 5000, &sr);
        if (st != MOEVK_OK) { /* counted only when it fails: the loop runs thousands of times */
            EXPECT_OK(st);
            break;
        }
        done = sr.done;
        ++steps;
    }
    CHECK(done);
    CHECK_MSG(sr.end == MOEVK_END_LENGTH, "end %s", moevk_end_reason_name(sr.end));
    check_token_log(&la, "generate");
    check_token_log(&lb, "step");
    CHECK(lb.text_length == la.text_length && memcmp(la.text, lb.text, la.text_length) == 0);
    CHECK(lb.count == la.count &&
          memcmp(la.tokens, lb.tokens, la.count * sizeof la.tokens[0]) == 0);
    EXPECT_STATUS(moevk_session_step(NULL, 5000, &sr), MOEVK_ERROR_INVALID_ARGUMENT, NULL);

    /* Stopped after the first token. */
    memset(&lb, 0, sizeof lb);
    EXPECT_OK(moevk_session_start(b, &g));
    done = 0;
    steps = 0;
    deadline = now_seconds() + 120.0;
    while (!done && lb.count == 0 && now_seconds() < deadline) {
        moevk_status st = moevk_session_step(b, 2000, &sr);
        if (st != MOEVK_OK) { /* counted only when it fails: the loop runs thousands of times */
            EXPECT_OK(st);
            break;
        }
        done = sr.done;
        ++steps;
    }
    CHECK(!done && lb.count >= 1);
    EXPECT_OK(moevk_session_stop(b));
    EXPECT_STATUS(moevk_session_stop(NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    EXPECT_OK(moevk_session_last_generation(b, &r));
    CHECK_MSG(r.end == MOEVK_END_STOPPED, "end %s", moevk_end_reason_name(r.end));
    check_session_works(b, ids[0], "stop()");
    moevk_session_destroy(a);
    moevk_session_destroy(b);
}

/* A model loaded with a budget that cannot hold one layer's top-k: the load works (the budget
 * is the sessions'), each session is refused. */
static void test_budget_too_small(moevk_engine* engine) {
    moevk_model_options mo = moevk_model_options_default();
    moevk_session_options so = small_session(64);
    moevk_model* model = NULL;
    moevk_session* s = NULL;
    moevk_model_info info;

    mo.vram_budget = "1K";
    if (!EXPECT_OK(moevk_model_load(engine, DEMO_MODEL, &mo, &model))) return;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT_OK(moevk_model_get_info(model, &info));
    CHECK(info.experts_paged == 1);
    /* The header does not say which status; a budget is a value out of range. */
    EXPECT_STATUS2(moevk_session_create(model, &so, &s), MOEVK_ERROR_INVALID_ARGUMENT,
                   MOEVK_ERROR_OUT_OF_MEMORY, "budget");
    CHECK(s == NULL);
    CHECK_MSG(
        strstr(last_message, "1K") || strstr(last_message, "1024") || strstr(last_message, "KiB"),
        "the message does not name the budget given: \"%s\"", last_message);
    /* The model is still usable. */
    EXPECT_OK(moevk_model_get_info(model, &info));
    moevk_model_destroy(model);
}

/* Handles keep their parents alive: the engine and the model go first, the session still runs. */
static void test_lifetimes(const moevk_tokenizer* tok) {
    moevk_engine_options o = validated_engine_options();
    moevk_model_options mo = moevk_model_options_default();
    moevk_session_options so = small_session(64);
    moevk_engine* engine = NULL;
    moevk_model* model = NULL;
    moevk_session* s = NULL;
    const moevk_tokenizer* mt;
    int32_t ids[32];
    size_t n = tokenize_plain(tok, "Copyright", ids, 32), len = 0;
    char text[64];

    if (!EXPECT_OK(moevk_engine_create(&o, &engine))) return;
    CHECK(moevk_engine_owns_device(engine) == 1);
    if (!EXPECT_OK(moevk_model_load(engine, DEMO_MODEL, &mo, &model))) {
        moevk_engine_destroy(engine);
        return;
    }
    if (!EXPECT_OK(moevk_session_create(model, &so, &s))) {
        moevk_model_destroy(model);
        moevk_engine_destroy(engine);
        return;
    }
    mt = moevk_model_get_tokenizer(model);
    moevk_engine_destroy(engine);
    EXPECT_OK(moevk_detokenize(mt, ids, n, 0, text, sizeof text, &len));
    CHECK(strcmp(text, "Copyright") == 0);
    moevk_model_destroy(model);
    EXPECT_OK(moevk_session_feed_tokens(s, ids, n));
    check_session_works(s, ids[0], "its engine and model were destroyed");
    moevk_session_destroy(s);
}

int main(void) {
    moevk_engine_options o = validated_engine_options();
    moevk_model_options mo = moevk_model_options_default();
    moevk_engine* engine = NULL;
    moevk_model* model = NULL;
    const moevk_tokenizer* tok = NULL;
    moevk_device_info di;

    test_version_and_names();
    test_defaults();
    test_devices();
    test_engine_errors();
    test_harmony();

    if (!EXPECT_OK(moevk_engine_create(&o, &engine))) {
        fprintf(stderr, "no engine: %d failures\n", failures);
        return failures ? failures : 1;
    }
    memset(&di, 0, sizeof di);
    di.struct_size = sizeof di;
    EXPECT_OK(moevk_engine_get_device_info(engine, &di));
    CHECK(di.name[0] != '\0');
    EXPECT_STATUS(moevk_engine_get_device_info(engine, NULL), MOEVK_ERROR_INVALID_ARGUMENT, NULL);
    CHECK(moevk_engine_owns_device(engine) == 1);
    printf("device: %s\n", di.name);

    test_model_load_errors(engine);
    test_progress(engine);
    if (!EXPECT_OK(moevk_model_load(engine, DEMO_MODEL, &mo, &model))) {
        moevk_engine_destroy(engine);
        return failures ? failures : 1;
    }
    tok = moevk_model_get_tokenizer(model);
    test_model_info(model);
    if (tok) {
        test_tokenizer(tok);
        test_detokenizer(tok);
        test_chat_render(tok);
        test_session(model, tok);
        test_feed_chat(model, tok);
        test_struct_size(model);
        test_context_full(model, tok);
        test_stats(model, tok);
        test_step_mode(model, tok);
        test_lifetimes(tok);
    }
    test_budget_too_small(engine);

    moevk_model_destroy(model);
    moevk_engine_destroy(engine);
    CHECK_MSG(validation_messages == 0, "the validation layer reported %d messages",
              validation_messages);
    printf("%d checks, %d failures\n", checks, failures);
    return failures > 125 ? 125 : failures;
}
