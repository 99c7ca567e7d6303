#include "routes.h"

#include <nlohmann/json.hpp>

#include "completions.h"
#include "openai.h"
#include "request_log.h"
#include "web_files.h"

namespace moeserver {

namespace {

using nlohmann::json;

void send_json(httplib::Response& res, const json& j, int status = 200) {
    res.status = status;
    res.set_content(openai::dump(j), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& param = "", const std::string& code = "") {
    send_json(res, openai::error(message, openai::error_type(status), param, code), status);
}

// Compares in time that depends on the lengths only, not on where the first difference is,
// so the key cannot be guessed byte by byte from response times.
bool same_secret(std::string_view given, std::string_view key) {
    unsigned char diff = given.size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < given.size(); ++i)
        diff |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
    return diff == 0;
}

bool needs_key(const std::string& path) {
    return path == "/v1" || path.rfind("/v1/", 0) == 0;
}

// 401 unless the request carries the key; OpenAI's wording and code.
bool authorized(const httplib::Request& req, httplib::Response& res, const ServerContext& ctx) {
    if (ctx.api_key.empty() || !needs_key(req.path)) return true;
    const std::string auth = req.get_header_value("Authorization");
    const std::string_view bearer = "Bearer ";
    if (auth.rfind(bearer, 0) != 0) {
        send_error(res, 401,
                   "You didn't provide an API key. You need to provide your API key in an "
                   "Authorization header using "
                   "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                   "", "invalid_api_key");
    } else if (!same_secret(std::string_view(auth).substr(bearer.size()), ctx.api_key)) {
        send_error(res, 401, "Incorrect API key provided.", "", "invalid_api_key");
    } else {
        return true;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    return false;
}

// A POST must say it is JSON. Besides telling a client its mistake, this keeps other web
// sites out: a page elsewhere can make a browser send a text/plain POST to 127.0.0.1 without
// asking, but not an application/json one (that needs a CORS preflight, never granted here).
bool json_body(const httplib::Request& req, httplib::Response& res) {
    if (req.method != "POST") return true;
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) == 0) return true;
    send_error(res, 415,
               "the request body must be JSON, sent with Content-Type: application/json (got '" +
                   type + "')");
    return false;
}

// On a loopback address, the Host header must name this machine. A web page elsewhere can
// point a name of its own at 127.0.0.1 (DNS rebinding) and then read the server's replies as
// "same origin"; its requests still carry its own name as Host, and are refused here.
bool local_host(const httplib::Request& req, httplib::Response& res, const ServerContext& ctx) {
    if (!ctx.loopback_only) return true;
    std::string host = req.get_header_value("Host");
    // Strip the port: "127.0.0.1:8080", "[::1]:8080", "localhost".
    if (!host.empty() && host[0] == '[')
        host = host.substr(0, host.find(']') + 1);
    else
        host = host.substr(0, host.find(':'));
    if (host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0) return true;
    send_error(res, 403,
               "the Host header '" + req.get_header_value("Host") +
                   "' is not this machine: a server on a loopback address answers only "
                   "localhost, 127.x.x.x and [::1] (listen with --host to serve other names)");
    return false;
}

// A bounded set of labels for the request counter (a path a client makes up is "other").
std::string route_label(const std::string& path) {
    static const char* known[] = {"/",
                                  "/app.js",
                                  "/style.css",
                                  "/favicon.ico",
                                  "/health",
                                  "/metrics",
                                  "/v1/models",
                                  "/v1/chat/completions",
                                  "/v1/completions",
                                  "/v1/internal/experts"};
    for (const char* k : known)
        if (path == k) return path;
    if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
    return "other";
}

// Runs a handler, answering what it throws in OpenAI's error shape.
template <class Handler>
httplib::Server::Handler guarded(Handler handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
        try {
            handler(req, res);
        } catch (const BadRequest& e) {
            send_error(res, e.status, e.what(), e.param, e.code);
        } catch (const moevk::Exception& e) {
            send_error(res, e.status() == MOEVK_ERROR_INVALID_ARGUMENT ? 400 : 500, e.what());
        } catch (const std::exception& e) {
            send_error(res, 500, std::string("internal error: ") + e.what());
        }
    };
}

json experts_json(const Metrics& metrics, const moevk_model_info& info) {
    ExpertCounts c = metrics.experts();
    json rows = json::array();
    for (uint32_t l = 0; l < c.layers; ++l)
        rows.push_back(std::vector<uint64_t>(c.counts.begin() + size_t(l) * c.experts,
                                             c.counts.begin() + size_t(l + 1) * c.experts));
    return json{{"layers", c.layers},
                {"experts", c.experts},
                {"top_k", info.top_k},
                {"tokens_per_second", metrics.recent_tokens_per_second()},
                {"counts", rows}};
}

}  // namespace

void install_routes(httplib::Server& server, ServerContext& ctx) {
    server.set_payload_max_length(kMaxBodyBytes);

    server.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
        request_log::begin();
        if (!local_host(req, res, ctx) || !authorized(req, res, ctx) || !json_body(req, res))
            return httplib::Server::HandlerResponse::Handled;
        return httplib::Server::HandlerResponse::Unhandled;
    });

    for (const WebFile& f : web_files())
        server.Get(std::string(f.path), [&f](const httplib::Request&, httplib::Response& res) {
            res.set_content(f.body.data(), f.body.size(), std::string(f.content_type).c_str());
            // The page talks only to this server; it needs nothing from elsewhere.
            res.set_header("Content-Security-Policy", "default-src 'self'; connect-src 'self'");
        });

    // Browsers ask for it unprompted; "nothing here" without a 404 in the page's console.
    server.Get("/favicon.ico",
               [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    server.Get("/health", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
                   send_json(res, json{{"status", "ok"},
                                       {"model", ctx.model_id},
                                       {"slots", ctx.scheduler.slots()}});
               }));
    server.Get("/metrics", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
                   res.set_content(ctx.metrics.prometheus(), "text/plain; version=0.0.4");
               }));
    server.Get("/v1/models", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
                   send_json(res, openai::model_list(ctx.model_id, ctx.created));
               }));
    server.Get(
        R"(/v1/models/(.+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
            if (req.matches[1] != ctx.model_id)
                throw BadRequest("The model '" + std::string(req.matches[1]) + "' does not exist",
                                 "model", "model_not_found", 404);
            send_json(res, openai::model_object(ctx.model_id, ctx.created));
        }));
    server.Get("/v1/internal/experts",
               guarded([&ctx](const httplib::Request&, httplib::Response& res) {
                   send_json(res, experts_json(ctx.metrics, ctx.info));
               }));
    server.Post("/v1/chat/completions",
                guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
                    handle_completion(req, res, ctx, true);
                }));
    server.Post("/v1/completions",
                guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
                    handle_completion(req, res, ctx, false);
                }));

    // Replies httplib makes itself (404, 413, 400 for a broken request line) get a body in
    // OpenAI's shape too; replies that have one already keep it.
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty() || res.has_header("Content-Type"))
                return httplib::Server::HandlerResponse::Unhandled;
            std::string message = res.status == 404   ? "no route " + req.method + " " + req.path
                                  : res.status == 413 ? "the request body is larger than " +
                                                            std::to_string(kMaxBodyBytes) + " bytes"
                                                      : "bad request";
            send_error(res, res.status, message);
            return httplib::Server::HandlerResponse::Handled;
        }));
    server.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
            send_error(res, 500, "internal error");
        });
    server.set_logger([&ctx](const httplib::Request& req, const httplib::Response& res) {
        ctx.metrics.count_request(route_label(req.path), res.status);
        request_log::write(req, res);
    });
}

}  // namespace moeserver
