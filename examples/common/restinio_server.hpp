// Running a RESTinio server with an express router on an io_context of one's own, for
// the example servers.
#pragma once

#include "server.hpp"

#include <asio_soci/restinio.hpp>

#include <restinio/all.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace example {

using router_t = restinio::router::express_router_t<>;
using server_traits_t =
    restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t, router_t>;

/// Options for asio_soci::restinio_handler() that count the handlers' requests in
/// `requests`, so that a stop lets them finish.
asio_soci::restinio_options adapter_options(in_flight& requests);

/// Logs why the server could not listen.
void log_listen_error(std::exception_ptr error);

/// Serves `handler` with RESTinio `Traits` on `io`, run by `io_threads` threads (this one
/// included; more than one needs traits that serialise each connection on a strand, such
/// as restinio::default_traits_t), at the address and port of `options`; announces
/// "listening on http://ADDR:PORT" and stops cleanly on SIGINT or SIGTERM. Returns
/// main()'s exit code once `io` has stopped.
template <class Traits, class Handler>
int serve(asio::io_context& io, std::size_t io_threads, const server_options& options,
          Handler handler, in_flight& requests) {
    asio::ip::tcp::endpoint bound;
    restinio::http_server_t<Traits> server{
        restinio::external_io_context(io),
        restinio::server_settings_t<Traits>{}
            .address(options.address)
            .port(options.port)
            .request_handler(std::move(handler))
            // RESTinio closes a connection whose request is not answered in time; give
            // the handlers the pool's acquire timeout and a margin for the query.
            .handle_request_timeout(std::chrono::milliseconds{options.acquire_timeout_ms} +
                                    std::chrono::seconds{60})
            .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& acceptor) {
                bound = acceptor.local_endpoint();
            })};

    std::atomic<int> exit_code{0};
    server.open_async([&bound] { announce_listening("http", bound); },
                      [&io, &exit_code](std::exception_ptr error) {
                          log_listen_error(error);
                          exit_code = 1;
                          io.stop();
                      });
    // Asynchronously: the acceptor closes on its own executor, whichever thread the
    // signal arrives on.
    stop_on_signal(io, requests, [&server](std::function<void()> then) {
        server.close_async(then, [then](std::exception_ptr) { then(); });
    });

    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < io_threads; ++i)
        threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& thread : threads)
        thread.join();
    return exit_code;
}

/// Serves `router` on `io`, run by the caller alone, as above; unmatched requests get 404.
int serve(asio::io_context& io, const server_options& options, std::unique_ptr<router_t> router,
          in_flight& requests);

}  // namespace example

namespace example {

/// Sends a plain-text response.
template <class Request>
void respond(const Request& req, restinio::http_status_line_t status, std::string body) {
    req->create_response(std::move(status))
        .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
        .set_body(std::move(body))
        .done();
}

}  // namespace example
