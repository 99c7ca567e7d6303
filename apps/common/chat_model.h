// The engine and the model a chat app (moe-chat, moe-server) runs on, opened the same way in
// both: the file checked to exist and --chat-template checked before the device starts, the
// device and paging flags applied, and a model without a chat template moe-vk can render refused
// unless a template was named.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include <moevk/moevk.hpp>

#include "device_flags.h"
#include "paging_flags.h"
#include "session_flags.h"

namespace moevk::apps {

struct ChatModel {
    // Declared in this order: the engine's options point into device_name, the model needs the
    // engine.
    std::string device_name;
    Engine engine;
    Model model;

    ChatModel(const std::string& path, const std::string& template_name, const DeviceFlags& device,
              const PagingFlags& paging, const std::function<bool(float)>& progress)
        : engine((check_before_device(path, template_name), engine_options(device, device_name))),
          model(engine, path, model_options(paging), progress) {
        moevk_model_info info = model.info();
        if (template_name.empty() && !*info.chat_template) {
            const moevk_tokenizer* tok = moevk_model_get_tokenizer(model.get());
            std::string why = tok ? Tokenizer(tok).info().template_error : info.vocab_error;
            throw Exception(MOEVK_ERROR_UNSUPPORTED, why + ": pass --chat-template NAME");
        }
    }

private:
    static void check_before_device(const std::string& path, const std::string& template_name) {
        if (!std::filesystem::exists(path))
            throw Exception(MOEVK_ERROR_BAD_FILE, "no model file at " + path +
                                                      " (pass one with -m; the demo model is assets/moe-vk-demo.gguf)");
        check_template_name(template_name);
    }
    // The options point into `paging`, which outlives the load.
    static moevk_model_options model_options(const PagingFlags& paging) {
        moevk_model_options mo = moevk_model_options_default();
        apply_paging_flags(paging, mo);
        return mo;
    }
};

}  // namespace moevk::apps
