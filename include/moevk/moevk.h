/* moe-vk: mixture-of-experts language models on any Vulkan device.
 *
 * The public C API (C11 and C++). Four kinds of handle:
 *
 *   moevk_engine     a Vulkan device: one the engine chose and created, or the host's own
 *                    (moevk_vulkan.h)
 *   moevk_model      a GGUF model's weights on an engine's device; serves many sessions
 *   moevk_tokenizer  a vocabulary and chat template: text <-> token ids (a model has one; one
 *                    can also be read from a vocabulary-only file, without a device)
 *   moevk_session    one conversation: KV cache, sampler, position, token history
 *
 * Errors. Every function that can fail returns a moevk_status. On failure the message of the
 * error, naming the file, tensor, field or value, is kept for the calling thread and read with
 * moevk_last_error(); a call that succeeds clears it (the functions that return names or
 * versions, and moevk_last_error itself, leave it alone). Nothing crosses this boundary as a
 * C++ exception, and the library never prints, aborts or exits. A handle stays usable after any
 * error it reports. An options pointer may be NULL for the defaults; any other NULL handle or
 * pointer is MOEVK_ERROR_INVALID_ARGUMENT.
 *
 * Text out. Functions that write text take (text, capacity, length): `*length` gets the text's
 * byte count without the NUL, and the buffer must hold the text and a NUL (capacity > length);
 * otherwise the call writes what fits with a NUL, and fails with MOEVK_ERROR_BUFFER_TOO_SMALL
 * (call again with capacity = *length + 1). Arrays out work alike with a count.
 *
 * Threads. Handles of different engines are independent: two engines work on two threads at
 * once. A model and its tokenizer are read-only once loaded: any number of threads may use
 * them and create sessions on them. A session is used by one thread at a time (different
 * sessions on different threads at once are fine). Callbacks run on the thread that made the
 * call that invokes them.
 *
 * Lifetimes. A handle keeps what it was made from alive: destroying an engine whose models
 * still exist (or a model whose sessions still exist) only releases the caller's hold, and the
 * last child to go takes the parent with it. A host-owned device must outlive every handle
 * made on it.
 *
 * Structs passed in or out start with `struct_size`: take options from the *_default()
 * functions, and set struct_size = sizeof(the struct) on the structs the library fills, so
 * that later versions can add fields at the end without breaking programs built against this
 * one.
 */
#ifndef MOEVK_MOEVK_H
#define MOEVK_MOEVK_H

#include <stddef.h>
#include <stdint.h>

#define MOEVK_VERSION_MAJOR 0
#define MOEVK_VERSION_MINOR 1
#define MOEVK_VERSION_PATCH 0
/* The version as one number, e.g. 0.1.0 -> 100, 1.2.3 -> 10203. */
#define MOEVK_VERSION (MOEVK_VERSION_MAJOR * 10000 + MOEVK_VERSION_MINOR * 100 + MOEVK_VERSION_PATCH)

#if defined(_WIN32) && defined(MOEVK_BUILDING_LIBRARY)
#define MOEVK_API __declspec(dllexport)
#elif defined(_WIN32)
#define MOEVK_API __declspec(dllimport)
#elif defined(__GNUC__)
#define MOEVK_API __attribute__((visibility("default")))
#else
#define MOEVK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status, version, errors ------------------------------------------------------------ */

typedef enum moevk_status {
    MOEVK_OK = 0,
    MOEVK_ERROR_INVALID_ARGUMENT = 1, /* a NULL handle or pointer, a value out of range */
    MOEVK_ERROR_NO_DEVICE = 2,        /* no Vulkan device, or none matching the request */
    MOEVK_ERROR_VULKAN = 3,           /* a Vulkan call failed (the message names it) */
    MOEVK_ERROR_OUT_OF_MEMORY = 4,    /* device or host memory ran out */
    MOEVK_ERROR_BAD_FILE = 5,         /* a model file that is missing, malformed or truncated */
    MOEVK_ERROR_UNSUPPORTED = 6,      /* a well-formed file asking for what moe-vk does not do */
    MOEVK_ERROR_CANCELLED = 7,        /* a progress callback asked to stop */
    MOEVK_ERROR_BUFFER_TOO_SMALL = 8, /* the output did not fit: *needed says how much would */
    MOEVK_ERROR_BUSY = 9,             /* a session is in the middle of a started generation */
    MOEVK_ERROR_CONTEXT_FULL = 10,    /* the input does not fit in the session's context */
    MOEVK_ERROR_INTERNAL = 11         /* a bug: please report the message */
} moevk_status;

/* MOEVK_VERSION of the library loaded at run time (may differ from the header's). */
MOEVK_API uint32_t moevk_version(void);
/* "0.1.0" */
MOEVK_API const char* moevk_version_string(void);
/* "MOEVK_ERROR_BAD_FILE", ... */
MOEVK_API const char* moevk_status_name(moevk_status status);
/* The message of this thread's last failed call; "" when the last call succeeded. Valid until
 * this thread's next call into the library. */
MOEVK_API const char* moevk_last_error(void);

/* ---- devices and engines ---------------------------------------------------------------- */

typedef struct moevk_engine moevk_engine;
typedef struct moevk_model moevk_model;
typedef struct moevk_tokenizer moevk_tokenizer;
typedef struct moevk_session moevk_session;
typedef struct moevk_detokenizer moevk_detokenizer;

typedef enum moevk_device_kind {
    MOEVK_DEVICE_DISCRETE = 0,
    MOEVK_DEVICE_INTEGRATED = 1,
    MOEVK_DEVICE_VIRTUAL = 2,
    MOEVK_DEVICE_CPU = 3,
    MOEVK_DEVICE_OTHER = 4
} moevk_device_kind;

typedef struct moevk_device_info {
    uint32_t struct_size;
    char name[256];
    moevk_device_kind kind;
    uint32_t vendor_id;
    uint32_t api_version;        /* VK_MAKE_API_VERSION form */
    uint64_t device_local_bytes; /* the largest device-local heap */
    uint32_t subgroup_size;
    int has_timestamps;          /* the budgeted step learns costs from them */
    int has_transfer_queue;      /* a dedicated one (engines that own their device) */
} moevk_device_info;

/* The Vulkan devices the loader offers, in enumeration order (the index an engine takes); an
 * index past them is MOEVK_ERROR_NO_DEVICE. */
MOEVK_API moevk_status moevk_device_count(uint32_t* count);
MOEVK_API moevk_status moevk_device_get_info(uint32_t index, moevk_device_info* info);

typedef void (*moevk_message_callback)(void* user, const char* message);

typedef struct moevk_engine_options {
    uint32_t struct_size;
    int32_t device_index;    /* -1: by name, else the best kind (discrete, integrated, ...) */
    const char* device_name; /* NULL, or a case-insensitive part of the device's name */
    int validation;          /* run with VK_LAYER_KHRONOS_validation (slow; for debugging) */
    moevk_message_callback on_validation_message; /* each validation message */
    void* validation_user;
} moevk_engine_options;

MOEVK_API moevk_engine_options moevk_engine_options_default(void);
/* An engine on a device of its own (its own VkInstance and VkDevice). */
MOEVK_API moevk_status moevk_engine_create(const moevk_engine_options* options, moevk_engine** engine);
/* NULL is ignored. */
MOEVK_API void moevk_engine_destroy(moevk_engine* engine);
MOEVK_API moevk_status moevk_engine_get_device_info(const moevk_engine* engine, moevk_device_info* info);
/* Whether the engine created its VkDevice (0 on a host's device). */
MOEVK_API int moevk_engine_owns_device(const moevk_engine* engine);

/* ---- models ------------------------------------------------------------------------------ */

typedef enum moevk_cache_policy { MOEVK_CACHE_LRU = 0, MOEVK_CACHE_LFU = 1 } moevk_cache_policy;
typedef enum moevk_kv_format { MOEVK_KV_F32 = 0, MOEVK_KV_F16 = 1 } moevk_kv_format;

/* Called while a model loads with the fraction done (0..1); return 0 to cancel the load, which
 * then fails with MOEVK_ERROR_CANCELLED and frees what it took. */
typedef int (*moevk_progress_callback)(void* user, float fraction);

typedef struct moevk_model_options {
    uint32_t struct_size;
    /* Expert paging: NULL or "" keeps every expert on the device. Otherwise the device memory
     * each session may use, the resident weights included: bytes ("6G", "512M"), the share of
     * experts that get a slot ("50%"), or "min" (one layer's top-k). The experts then stay in
     * the file (which must not change while the model lives) and each session pages them. */
    const char* vram_budget;
    moevk_cache_policy cache_policy;
    int prefetch;              /* guess and upload the next layer's experts early (default 1) */
    moevk_kv_format kv_format; /* the sessions' KV cache (default f32) */
    moevk_progress_callback progress;
    void* progress_user;
} moevk_model_options;

typedef struct moevk_model_info {
    uint32_t struct_size;
    char architecture[64];  /* general.architecture: "llama", "qwen3moe", ... */
    char name[256];         /* general.name, or "" */
    char description[512];  /* one line: shapes, experts, formats */
    char chat_template[64]; /* the chat format recognised from the file, or "" */
    uint32_t n_layers;
    uint32_t n_experts;
    uint32_t top_k;
    uint32_t n_shared_experts; /* 1 where the layers have a shared expert */
    uint32_t d_model;
    uint32_t d_ff;            /* each routed expert's intermediate size */
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t n_vocab;
    uint32_t n_ctx_train;     /* the context the model was trained for */
    char expert_format[16];   /* the first layer's expert gate format: "q4_k", "f16", ... */
    uint64_t file_bytes;
    uint64_t device_bytes;    /* device memory the resident weights took */
    int experts_paged;        /* loaded with a VRAM budget */
    char vocab_error[256];    /* why the model has no tokenizer, or "" */
} moevk_model_info;

MOEVK_API moevk_model_options moevk_model_options_default(void);
/* Reads, checks and uploads a GGUF file. */
MOEVK_API moevk_status moevk_model_load(moevk_engine* engine, const char* path, const moevk_model_options* options,
                                        moevk_model** model);
MOEVK_API void moevk_model_destroy(moevk_model* model);
MOEVK_API moevk_status moevk_model_get_info(const moevk_model* model, moevk_model_info* info);
/* The model's tokenizer, owned by the model (valid while it lives; do not destroy it); NULL
 * when the file's vocabulary cannot be read (moevk_model_get_info's vocab_error says why):
 * such a model still runs token ids, but feed_chat fails and generated tokens have no text. */
MOEVK_API const moevk_tokenizer* moevk_model_get_tokenizer(const moevk_model* model);

/* ---- text --------------------------------------------------------------------------------- */

/* A tokenizer from the vocabulary of any GGUF file (no device, no tensors needed). */
MOEVK_API moevk_status moevk_tokenizer_load(const char* path, moevk_tokenizer** tokenizer);
/* Only for tokenizers from moevk_tokenizer_load; NULL is ignored. */
MOEVK_API void moevk_tokenizer_destroy(moevk_tokenizer* tokenizer);

enum {
    MOEVK_TOKENIZE_ADD_BOS = 1,       /* put BOS first (an error if the vocabulary has none) */
    MOEVK_TOKENIZE_PARSE_SPECIAL = 2, /* control tokens written in the text become their ids */
    MOEVK_TOKENIZE_DEFAULT_BOS = 4    /* BOS when the vocabulary asks for it */
};
enum {
    MOEVK_TEXT_RENDER_SPECIAL = 1, /* control tokens give their text instead of "" */
    MOEVK_TEXT_CONTINUATION = 2    /* detokenizer: the tokens continue a text, so a SentencePiece
                                      leading space on the first one is kept */
};

typedef struct moevk_vocab_info {
    uint32_t struct_size;
    uint32_t n_vocab;
    int32_t bos;   /* -1 when there is none */
    int32_t eos;   /* -1 when there is none */
    int add_bos;   /* whether prompts should start with BOS */
    char kind[16]; /* "llama" (SentencePiece) or "gpt2" (byte-level BPE) */
    char pre[32];  /* the BPE pre-tokenizer */
    char chat_template[64]; /* the chat format recognised, or "" (see template_error) */
    char template_error[256]; /* why there is none: no template in the file, or not recognised */
} moevk_vocab_info;

MOEVK_API moevk_status moevk_tokenizer_get_info(const moevk_tokenizer* tokenizer, moevk_vocab_info* info);
/* The ids of `text` (`length` bytes; UTF-8). Writes at most `capacity` ids to `tokens`; `*count`
 * gets the number the text has, and MOEVK_ERROR_BUFFER_TOO_SMALL says they did not all fit. */
MOEVK_API moevk_status moevk_tokenize(const moevk_tokenizer* tokenizer, const char* text, size_t length,
                                      uint32_t flags, int32_t* tokens, size_t capacity, size_t* count);
/* The bytes of one token (may be part of a UTF-8 character). Writes at most `capacity` bytes and
 * a terminating NUL when it fits; `*length` gets the byte count without the NUL. */
MOEVK_API moevk_status moevk_token_to_piece(const moevk_tokenizer* tokenizer, int32_t token, uint32_t flags,
                                            char* text, size_t capacity, size_t* length);
/* All of `tokens` as text (whole UTF-8), the same output conventions. */
MOEVK_API moevk_status moevk_detokenize(const moevk_tokenizer* tokenizer, const int32_t* tokens, size_t count,
                                        uint32_t flags, char* text, size_t capacity, size_t* length);
/* Whether a token ends generation (EOS, EOT, end-of-turn markers); 0 for ids out of range. */
MOEVK_API int moevk_token_is_eog(const moevk_tokenizer* tokenizer, int32_t token);

/* Streaming token -> text: each push gives the text that is complete after the token (whole
 * UTF-8 only; a character split over tokens comes out with its last byte). */
MOEVK_API moevk_status moevk_detokenizer_create(const moevk_tokenizer* tokenizer, uint32_t flags,
                                                moevk_detokenizer** detokenizer);
MOEVK_API void moevk_detokenizer_destroy(moevk_detokenizer* detokenizer);
MOEVK_API moevk_status moevk_detokenizer_push(moevk_detokenizer* detokenizer, int32_t token, char* text,
                                              size_t capacity, size_t* length);
/* What is held back (an unfinished character, as U+FFFD); the stream can go on after it. */
MOEVK_API moevk_status moevk_detokenizer_flush(moevk_detokenizer* detokenizer, char* text, size_t capacity,
                                               size_t* length);

typedef enum moevk_role { MOEVK_ROLE_SYSTEM = 0, MOEVK_ROLE_USER = 1, MOEVK_ROLE_ASSISTANT = 2 } moevk_role;

typedef struct moevk_message {
    moevk_role role;
    const char* content; /* UTF-8, NUL-terminated */
} moevk_message;

typedef struct moevk_chat_options {
    uint32_t struct_size;
    const char* template_name; /* NULL: the file's template; else a name of moevk_chat_template_name */
    int add_generation_prompt; /* end with an open assistant turn (default 1) */
    int enable_thinking;       /* -1: the template's default; 0 or 1 where a template has the switch */
    const char* reasoning_effort; /* gpt-oss: "low", "medium" (default) or "high" */
} moevk_chat_options;

MOEVK_API moevk_chat_options moevk_chat_options_default(void);
/* The chat formats moe-vk renders: index 0.. until NULL. */
MOEVK_API const char* moevk_chat_template_name(size_t index);
/* The prompt text of a conversation as the model's chat template writes it (special tokens as
 * text: tokenize it with MOEVK_TOKENIZE_PARSE_SPECIAL). Output conventions of token_to_piece. */
MOEVK_API moevk_status moevk_chat_render(const moevk_tokenizer* tokenizer, const moevk_message* messages,
                                         size_t count, const moevk_chat_options* options, char* text,
                                         size_t capacity, size_t* length);

/* ---- sessions ----------------------------------------------------------------------------- */

typedef struct moevk_sampling {
    uint32_t struct_size;
    float temperature;       /* 0: greedy (default 0.8) */
    int32_t top_k;           /* 0: off (default 40) */
    float top_p;             /* 1: off (default 0.95) */
    float min_p;             /* 0: off (default 0.05) */
    float repeat_penalty;    /* 1: off */
    float frequency_penalty; /* 0: off */
    float presence_penalty;  /* 0: off */
    uint32_t penalty_last_n; /* tokens the penalties look back over (default 64) */
    uint64_t seed;
} moevk_sampling;

typedef struct moevk_session_options {
    uint32_t struct_size;
    uint32_t n_ctx;     /* KV cache positions; 0: the model's training context, at most 4096 */
    uint32_t max_batch; /* prompt tokens per forward step (default 256) */
    moevk_sampling sampling;
    int record_experts; /* keep the experts each step selected (default 1; costs a small copy) */
} moevk_session_options;

MOEVK_API moevk_sampling moevk_sampling_default(void);
MOEVK_API moevk_session_options moevk_session_options_default(void);
/* A session pages experts within the model's VRAM budget when the model was loaded with one;
 * a budget too small for one layer's top-k fails here with MOEVK_ERROR_INVALID_ARGUMENT, naming
 * the smallest that works. */
MOEVK_API moevk_status moevk_session_create(moevk_model* model, const moevk_session_options* options,
                                            moevk_session** session);
MOEVK_API void moevk_session_destroy(moevk_session* session);

/* Input. A session holds the tokens its KV cache has been given (its history) and the input
 * fed but not yet evaluated; input runs at the next eval, generate or step. */
MOEVK_API moevk_status moevk_session_feed_tokens(moevk_session* session, const int32_t* tokens, size_t count);
/* Feeds a whole conversation rendered with the chat template: the history is cut back to its
 * longest common prefix with the rendering and only the rest is fed, so a conversation that
 * grows by a turn evaluates only the new turn. Stop strings of the template apply to the next
 * generation. */
MOEVK_API moevk_status moevk_session_feed_chat(moevk_session* session, const moevk_message* messages,
                                               size_t count, const moevk_chat_options* options);
/* Evaluates the pending input followed by `tokens` (count may be 0) now. With `logits` not NULL
 * it receives count x n_vocab floats: the logits after each of `tokens`. */
MOEVK_API moevk_status moevk_session_eval(moevk_session* session, const int32_t* tokens, size_t count,
                                          float* logits);
/* The logits after the last evaluated position (n_vocab floats, valid until the session's
 * next call). MOEVK_ERROR_INVALID_ARGUMENT when nothing was evaluated since the session began,
 * its reset, or a truncate that dropped tokens. */
MOEVK_API moevk_status moevk_session_get_logits(const moevk_session* session, const float** logits,
                                                uint32_t* n_vocab);
/* Draws the next token from the last logits with the session's sampler (penalties over the
 * history). It is not fed: feed it to go on. */
MOEVK_API moevk_status moevk_session_sample(moevk_session* session, int32_t* token);
MOEVK_API moevk_status moevk_session_set_sampling(moevk_session* session, const moevk_sampling* sampling);
/* Forgets everything: history, pending input, and the stop strings of a fed chat. */
MOEVK_API moevk_status moevk_session_reset(moevk_session* session);
/* Keeps the first `n_keep` tokens of the history, dropping the rest and any pending input. */
MOEVK_API moevk_status moevk_session_truncate(moevk_session* session, uint32_t n_keep);
/* The history: writes at most `capacity` ids; `*count` gets its length. */
MOEVK_API moevk_status moevk_session_get_tokens(const moevk_session* session, int32_t* tokens, size_t capacity,
                                                size_t* count);

typedef enum moevk_end_reason {
    MOEVK_END_NONE = 0,         /* still running */
    MOEVK_END_EOG = 1,          /* an end-of-generation token was sampled (not fed) */
    MOEVK_END_STOP_STRING = 2,  /* a stop string appeared (its text not streamed) */
    MOEVK_END_LENGTH = 3,       /* max_tokens were generated */
    MOEVK_END_CONTEXT_FULL = 4, /* no room for another token (nothing more was sampled) */
    MOEVK_END_STOPPED = 5,      /* the callback returned 0, or moevk_session_stop */
    MOEVK_END_ERROR = 6         /* the step failed: the status says why */
} moevk_end_reason;
MOEVK_API const char* moevk_end_reason_name(moevk_end_reason reason); /* "end of turn", ... */

/* Each generated token with its text (`length` bytes, NUL-terminated): whole UTF-8, "" while
 * a character or a possible stop string is held back. When a generation ends by EOG, length or
 * a full context, text still held back comes in one last call with token -1. Return 0 to stop. */
typedef int (*moevk_token_callback)(void* user, int32_t token, const char* text, size_t length);

typedef struct moevk_generate_options {
    uint32_t struct_size;
    uint32_t max_tokens;            /* 0: only evaluate the pending input */
    const char* const* stop_strings; /* extra stop strings, `n_stop_strings` of them */
    size_t n_stop_strings;
    int ignore_eog;                 /* go on past end-of-generation tokens */
    moevk_token_callback on_token;
    void* user;
} moevk_generate_options;

typedef struct moevk_generation {
    uint32_t struct_size;
    moevk_end_reason end;
    uint32_t prompt_tokens;    /* input evaluated by this generation */
    uint32_t generated_tokens; /* tokens sampled and streamed (an ending EOG not counted) */
    double prompt_seconds;
    double generate_seconds;
} moevk_generation;

MOEVK_API moevk_generate_options moevk_generate_options_default(void);
/* Evaluates the pending input, then samples up to max_tokens tokens, feeding each to the
 * session and streaming it; returns when it ends. `result` may be NULL. */
MOEVK_API moevk_status moevk_session_generate(moevk_session* session, const moevk_generate_options* options,
                                              moevk_generation* result);

/* The frame-loop mode. start() sets up what generate() would do without running anything;
 * each step() then submits at most about `budget_us` microseconds of GPU work and returns
 * without waiting while that work runs. Call it once per frame; the callback streams tokens
 * from inside it. The tokens are the same as generate()'s, bit for bit.
 * A forward step is cut between layers (the embedding, each layer and the logits are its
 * pieces), never inside one; the engine learns each piece's cost from GPU timestamps, and a
 * call submits at least one piece. A prompt runs in steps of max_batch tokens, so the smallest
 * piece of a prompt is one layer over max_batch tokens: a host that must keep every frame
 * short creates the session with a small max_batch. Sessions build their shaders when created,
 * so the first calls do not stall on compilation.
 * A session with paged experts runs a whole forward step per call (it must read each layer's
 * routing back), so its calls block for one forward step. */
typedef struct moevk_step_result {
    uint32_t struct_size;
    int done;                 /* the generation ended: `end` says why, the session is free */
    int in_flight;            /* GPU work is still running: call again */
    uint32_t new_tokens;      /* tokens streamed during this call */
    uint32_t pieces;          /* pieces of forward steps submitted by this call */
    double estimated_gpu_us;  /* what this call submitted, by the learned costs */
    moevk_end_reason end;
} moevk_step_result;

MOEVK_API moevk_status moevk_session_start(moevk_session* session, const moevk_generate_options* options);
/* Without a started generation (before start, or after the call that reported done) it runs
 * nothing and reports done with the last generation's end. */
MOEVK_API moevk_status moevk_session_step(moevk_session* session, uint32_t budget_us, moevk_step_result* result);
/* Ends a started generation (waiting for its GPU work in flight); the tokens so far stay.
 * Without one it does nothing. */
MOEVK_API moevk_status moevk_session_stop(moevk_session* session);
/* The result of the last generation, started or blocking (prompt and generation figures). */
MOEVK_API moevk_status moevk_session_last_generation(const moevk_session* session, moevk_generation* result);

/* Continuous batching, for a host serving many sessions of one model (a server). A batch is the
 * scratch of a forward step that carries one generated token of each of up to `max_sessions`
 * sessions: the dense layers and the MoE layers run once for all of them, each token at its own
 * session's position and attending only to its own session's cache.
 *
 * moevk_batch_step moves the started generation of each of `count` sessions by one forward
 * step, waiting for it: those whose step is one generated token share one step; a session still
 * evaluating its prompt takes a step of its own (at most its max_batch tokens), as does one with
 * paged experts. results[i] (`count` structs, each with the same struct_size set) is what
 * moevk_session_step would report for sessions[i]: the
 * callback streams its tokens from inside this call, and a session without a started
 * generation reports done. The tokens are those of moevk_session_generate bit for bit: batching
 * changes no result. A session whose step fails ends with MOEVK_END_ERROR and the others go on;
 * the call then returns the first failure's status and message. The sessions are distinct and
 * of the batch's model; a batch and its sessions are used by one thread at a time. */
typedef struct moevk_batch moevk_batch;
MOEVK_API moevk_status moevk_batch_create(moevk_model* model, uint32_t max_sessions, moevk_batch** batch);
MOEVK_API void moevk_batch_destroy(moevk_batch* batch);
MOEVK_API moevk_status moevk_batch_step(moevk_batch* batch, moevk_session* const* sessions, size_t count,
                                        moevk_step_result* results);

typedef struct moevk_session_info {
    uint32_t struct_size;
    uint32_t n_ctx;
    uint32_t position;       /* tokens in the KV cache */
    uint32_t pending;        /* tokens fed, not yet evaluated */
    int paged;               /* forward steps page experts (some do not have a slot) */
    uint32_t expert_slots;   /* slots the budget gave; layers x experts when all resident */
    uint32_t total_experts;  /* layers x experts */
    uint64_t device_bytes;   /* the plan's device memory: resident weights, cache, slots */
    char plan[256];          /* the slot plan in words, or "" without paging */
    uint32_t n_vocab;        /* logits per position */
} moevk_session_info;

typedef struct moevk_session_stats {
    uint32_t struct_size;
    /* Forward-pass figures since the session began or reset_stats. */
    uint64_t prompt_tokens;
    double prompt_seconds;
    uint64_t generated_tokens;
    double generate_seconds;
    /* Paging, all layers summed (zero without paging). */
    uint64_t expert_hits;
    uint64_t expert_misses;
    uint64_t prefetched;
    uint64_t prefetch_used;
    uint64_t bytes_uploaded;
    double upload_wait_seconds;
} moevk_session_stats;

typedef struct moevk_layer_stats {
    uint32_t struct_size;
    uint64_t hits;
    uint64_t misses;
    uint64_t prefetched;
    uint64_t prefetch_used;
    uint64_t uploads;
    uint64_t bytes_uploaded;
    double wait_seconds;
} moevk_layer_stats;

MOEVK_API moevk_status moevk_session_get_info(const moevk_session* session, moevk_session_info* info);
MOEVK_API moevk_status moevk_session_get_stats(const moevk_session* session, moevk_session_stats* stats);
MOEVK_API moevk_status moevk_session_get_layer_stats(const moevk_session* session, uint32_t layer,
                                                     moevk_layer_stats* stats);
/* Tokens routed to each expert, [n_layers][n_experts] counts of (token, k) pairs, since the
 * session began or reset_stats (needs record_experts, or paging). `capacity` in counts. */
MOEVK_API moevk_status moevk_session_get_expert_counts(const moevk_session* session, uint64_t* counts,
                                                       size_t capacity);
/* The experts the last forward step selected: [n_layers][tokens][top_k] ids, best first;
 * `*tokens` gets the step's token count (needs record_experts). `capacity` in ids. */
MOEVK_API moevk_status moevk_session_get_last_experts(const moevk_session* session, uint32_t* ids,
                                                      size_t capacity, uint32_t* tokens);
/* The paging figures as a text table, one row per layer (conventions of token_to_piece). */
MOEVK_API moevk_status moevk_session_paging_report(const moevk_session* session, char* text, size_t capacity,
                                                   size_t* length);
MOEVK_API moevk_status moevk_session_reset_stats(moevk_session* session);

/* ---- gpt-oss replies ---------------------------------------------------------------------- */

/* gpt-oss replies (the "gpt-oss" template) in OpenAI's harmony format: messages on channels,
 * each headed by tags, as in
 *   <|channel|>analysis<|message|>...<|end|><|start|>assistant<|channel|>final<|message|>...
 * A harmony splitter takes a reply's text as a generation streams it (a tag may be split across
 * pieces) and gives each message's text with its channel, never the tags. Show users the final
 * channel (the analysis channel is the model's reasoning, not held to the answer's standards);
 * keep only the final channel's text as the assistant message of later turns (moevk_chat_render
 * refuses channel tags). Text before or between headers is not shown, except a reply with no
 * tags at all, which comes whole as the final channel when it ends. */
typedef struct moevk_harmony moevk_harmony;
typedef enum moevk_channel {
    MOEVK_CHANNEL_ANALYSIS = 0,   /* reasoning */
    MOEVK_CHANNEL_COMMENTARY = 1, /* tool calls, and preambles to them */
    MOEVK_CHANNEL_FINAL = 2,      /* the answer */
    MOEVK_CHANNEL_OTHER = 3       /* a channel harmony does not define, or none */
} moevk_channel;
MOEVK_API const char* moevk_channel_name(moevk_channel channel); /* "analysis", ..., "other" */
/* A piece of one message's text (`length` bytes, NUL-terminated; whole UTF-8 when what was fed
 * is), valid during the call. */
typedef void (*moevk_channel_callback)(void* user, moevk_channel channel, const char* text, size_t length);

typedef struct moevk_harmony_state {
    uint32_t struct_size;
    int final_ended;       /* a final-channel message was closed: the answer is complete (a host
                              may stop the generation; the model is done with the user) */
    int done;              /* <|return|> or <|call|> came as text, or finish: later text is dropped */
    moevk_channel channel; /* the message being read, or the last one */
    char channel_name[64]; /* its channel as written, "" for none */
    char recipient[128];   /* its header's "to=" ("functions.get_weather"), or "" */
} moevk_harmony_state;

MOEVK_API moevk_status moevk_harmony_create(moevk_harmony** harmony);
MOEVK_API void moevk_harmony_destroy(moevk_harmony* harmony);
/* Adds `length` bytes of reply text; each piece of message text it settles goes to `on_text`,
 * in order, before the call returns. Text that could start a tag waits for the next call. */
MOEVK_API moevk_status moevk_harmony_feed(moevk_harmony* harmony, const char* text, size_t length,
                                          moevk_channel_callback on_text, void* user);
/* The generation ended, for `end` (moevk_generation's): MOEVK_END_EOG and MOEVK_END_STOP_STRING
 * close the message in progress (gpt-oss ends on <|return|> or <|call|>, end-of-generation
 * tokens without text), any other reason leaves it cut off. What was held back goes to
 * `on_text`; later feeds give nothing. */
MOEVK_API moevk_status moevk_harmony_finish(moevk_harmony* harmony, moevk_end_reason end,
                                            moevk_channel_callback on_text, void* user);
MOEVK_API moevk_status moevk_harmony_get_state(const moevk_harmony* harmony, moevk_harmony_state* state);

#ifdef __cplusplus
}
#endif

#endif /* MOEVK_MOEVK_H */
