// RESTinio integration: a coroutine request handler that owns a request_scope (tornado-sqlalchemy's
// SessionMixin + on_finish). Optional component: link asio_soci::restinio.
#pragma once

#include <asio_soci/database_binds.hpp>
#include <asio_soci/errors.hpp>
#include <asio_soci/request_scope.hpp>
#include <asio_soci/session_factory.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include <spdlog/spdlog.h>
#include <restinio/all.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace asio_soci {

/// Options of restinio_handler().
struct restinio_options {
    /// The Retry-After header (in seconds) of the 503 sent when no session became free
    /// within the pool's acquire_timeout, or the database could not be reached.
    std::chrono::seconds retry_after{1};
    /// Where failed requests are logged; null means spdlog's default logger.
    std::shared_ptr<spdlog::logger> logger{};
    /// Log SOCI errors with the values bound to the statement and the driver's DETAIL
    /// (row values): personal data, so off by default (see asio_soci::log_message).
    bool log_sql_values = false;
    /// Called when a request's coroutine is spawned, and when it has ended and the
    /// request has been answered (e.g. to count requests in flight for a graceful
    /// shutdown). Optional; must not throw.
    std::function<void()> on_start{};
    std::function<void()> on_finish{};
};

/// Answers `req` unless a response was sent for it already: an asio_soci::pool_timeout
/// (pool exhausted) or asio_soci::connection_error (database unreachable) becomes 503
/// Service Unavailable with Retry-After, anything else (or no `error`: a handler that
/// forgot to answer) 500 Internal Server Error. The bodies are generic, never the
/// exception's text (it may hold SQL); the error is logged (message only; the library
/// masks passwords), a 503 at debug level only, since there is one per request while
/// it lasts and the pool already warns once per batch of timeouts or failed connects.
/// restinio_handler() calls it when its coroutine ends;
/// handlers of other styles (callbacks, blocking) can call it on their errors.
template <class ExtraData>
void respond_if_unanswered(restinio::generic_request_t<ExtraData>& req, std::exception_ptr error,
                           const restinio_options& options = {}) {
    const bool answered = restinio::impl::access_req_connection(req) == nullptr;
    if (answered && !error)
        return;

    auto& log = options.logger ? *options.logger : *spdlog::default_logger();
    const auto& header = req.header();
    const std::string method = header.method().c_str();
    const std::string& target = header.request_target();

    const char* unavailable = nullptr;  // why a 503, if it is one
    try {
        if (error)
            std::rethrow_exception(error);
        log.error("{} {}: the handler returned without sending a response", method, target);
    } catch (const pool_timeout& e) {
        unavailable = "the database is busy";
        log.debug("{} {}: {}", method, target, e.what());
    } catch (const connection_error& e) {
        unavailable = "the database cannot be reached";
        log.debug("{} {}: {}", method, target, e.what());
    } catch (const std::exception& e) {
        log.error("{} {} failed: {}", method, target, log_message(e, options.log_sql_values));
    } catch (...) {
        log.error("{} {} failed with an exception of unknown type", method, target);
    }
    if (answered)
        return;  // the handler sent (or began) its response before it threw

    try {
        if (unavailable) {
            req.create_response(restinio::status_service_unavailable())
                .append_header(restinio::http_field::retry_after,
                               std::to_string(options.retry_after.count()))
                .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
                .set_body(std::string("Service Unavailable: ") + unavailable + ", retry later\n")
                .done();
        } else {
            req.create_response(restinio::status_internal_server_error())
                .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
                .set_body("Internal Server Error\n")
                .done();
        }
    } catch (const std::exception& e) {
        log.error("{} {}: cannot send the error response: {}", method, target, e.what());
    }
}

namespace detail {

template <class Handler>
struct restinio_handler_state {
    asio::any_io_executor executor;
    database_binds binds;
    Handler handler;
    restinio_options options;
};

}  // namespace detail

/// The request handler that restinio_handler() returns.
template <class Handler>
class restinio_coroutine_handler {
public:
    explicit restinio_coroutine_handler(
        std::shared_ptr<const detail::restinio_handler_state<Handler>> state)
        : state_(std::move(state)) {}

    /// As a plain RESTinio request handler (settings.request_handler(...)).
    template <class ExtraData>
    restinio::request_handling_status_t operator()(
        std::shared_ptr<restinio::generic_request_t<ExtraData>> req) const {
        return spawn(std::move(req));
    }

    /// As an express-router handler; the route parameters go to the coroutine when it
    /// takes them.
    template <class ExtraData>
    restinio::request_handling_status_t operator()(
        std::shared_ptr<restinio::generic_request_t<ExtraData>> req,
        restinio::router::route_params_t params) const {
        using request = std::shared_ptr<restinio::generic_request_t<ExtraData>>;
        if constexpr (std::is_invocable_v<const Handler&, request, restinio::router::route_params_t,
                                          request_scope&>)
            return spawn(std::move(req), std::move(params));
        else
            return spawn(std::move(req));
    }

private:
    template <class Request, class... Params>
    restinio::request_handling_status_t spawn(Request req, Params&&... params) const {
        static_assert(std::is_invocable_v<const Handler&, Request, Params..., request_scope&>,
                      "the handler must be callable as handler(request_handle_t, "
                      "[route_params_t,] asio_soci::request_scope&) and return an awaitable");
        if (state_->options.on_start)
            state_->options.on_start();
        asio::co_spawn(state_->executor, serve(state_, std::move(req), std::move(params)...),
                       asio::detached);
        return restinio::request_accepted();
    }

    template <class Request, class... Params>
    static asio::awaitable<void> serve(
        std::shared_ptr<const detail::restinio_handler_state<Handler>> state, Request req,
        Params... params) {
        std::exception_ptr error;
        {
            request_scope scope{state->binds};
            try {
                co_await std::invoke(state->handler, req, std::move(params)..., scope);
            } catch (...) {
                error = std::current_exception();
            }
        }  // the sessions go back (rolled back if uncommitted) before any error response
        respond_if_unanswered(*req, std::move(error), state->options);
        if (state->options.on_finish)
            state->options.on_finish();
    }

    std::shared_ptr<const detail::restinio_handler_state<Handler>> state_;
};

/// Turns a coroutine into a RESTinio request handler, usable as
/// `settings.request_handler(...)` and with the express router
/// (`router->http_get("/users/:id", ...)`).
///
/// The coroutine is `asio::awaitable<void>(request_handle_t, asio_soci::request_scope&)`,
/// or `(request_handle_t, restinio::router::route_params_t, asio_soci::request_scope&)`
/// for express routes that need their parameters. Each request gets its own scope,
/// built from `binds`; the coroutine is spawned on `executor` (the server's
/// io_context), and the handler returns restinio::request_accepted() at once.
///
/// The coroutine sends its response (create_response()...done()) before it returns.
/// When it ends, the scope's sessions go back to their pools, rolled back when a
/// transaction is still open: commit explicitly, nothing is committed after an error.
/// Then, if no response was sent: an asio_soci::pool_timeout or connection_error becomes
/// 503 Service Unavailable with Retry-After; any other exception, or no response at all, becomes
/// 500 Internal Server Error. The bodies are generic; the error is logged through
/// spdlog (message only). A handler that sent a response and then threw gets no second
/// response; the error is still logged.
///
/// A connection that drops while the coroutine runs does not cancel it: RESTinio
/// notices the drop when it writes the response, which is then discarded.
template <class Handler>
restinio_coroutine_handler<std::decay_t<Handler>> restinio_handler(asio::any_io_executor executor,
                                                                   database_binds binds,
                                                                   Handler&& handler,
                                                                   restinio_options options = {}) {
    using state = detail::restinio_handler_state<std::decay_t<Handler>>;
    return restinio_coroutine_handler<std::decay_t<Handler>>{
        std::make_shared<const state>(state{std::move(executor), std::move(binds),
                                            std::forward<Handler>(handler), std::move(options)})};
}

/// As above, with one database: `factory` is the scope's default bind.
template <class Handler>
restinio_coroutine_handler<std::decay_t<Handler>> restinio_handler(asio::any_io_executor executor,
                                                                   session_factory factory,
                                                                   Handler&& handler,
                                                                   restinio_options options = {}) {
    return restinio_handler(std::move(executor),
                            database_binds{{std::string{default_bind}, std::move(factory)}},
                            std::forward<Handler>(handler), std::move(options));
}

}  // namespace asio_soci
