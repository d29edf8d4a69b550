// Running a RESTinio server with an express router on an io_context of one's own, for
// the example servers.
#pragma once

#include "server.hpp"

#include <asio_soci/restinio.hpp>

#include <restinio/all.hpp>

#include <memory>

namespace example {

using router_t = restinio::router::express_router_t<>;
using server_traits_t =
    restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t, router_t>;

/// Options for asio_soci::restinio_handler() that count the handlers' requests in
/// `requests`, so that a stop lets them finish.
asio_soci::restinio_options adapter_options(in_flight& requests);

/// Serves `router` on `io` (run by the caller on one thread) at the address and port of
/// `options`, announces "listening on http://ADDR:PORT", and stops cleanly on SIGINT or
/// SIGTERM. Returns main()'s exit code once `io` has stopped.
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
