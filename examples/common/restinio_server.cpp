#include "restinio_server.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

namespace example {

asio_soci::restinio_options adapter_options(in_flight& requests) {
    return {.on_start = [&requests] { requests.start(); },
            .on_finish = [&requests] { requests.finish(); }};
}

void log_listen_error(std::exception_ptr error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        spdlog::error("cannot listen: {}", e.what());
    } catch (...) {
        spdlog::error("cannot listen: an exception of unknown type");
    }
}

int serve(asio::io_context& io, const server_options& options, std::unique_ptr<router_t> router,
          in_flight& requests) {
    router->non_matched_request_handler([](auto req) {
        return req->create_response(restinio::status_not_found())
            .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
            .set_body("Not Found\n")
            .done();
    });
    return serve<server_traits_t>(io, 1, options, std::move(router), requests);
}

}  // namespace example
