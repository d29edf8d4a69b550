#include "restinio_server.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

namespace example {

asio_soci::restinio_options adapter_options(in_flight& requests) {
    return {.on_start = [&requests] { requests.start(); },
            .on_finish = [&requests] { requests.finish(); }};
}

int serve(asio::io_context& io, const server_options& options, std::unique_ptr<router_t> router,
          in_flight& requests) {
    router->non_matched_request_handler([](auto req) {
        return req->create_response(restinio::status_not_found())
            .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
            .set_body("Not Found\n")
            .done();
    });

    asio::ip::tcp::endpoint bound;
    restinio::http_server_t<server_traits_t> server{
        restinio::external_io_context(io),
        restinio::server_settings_t<server_traits_t>{}
            .address(options.address)
            .port(options.port)
            .request_handler(std::move(router))
            // RESTinio closes a connection whose request is not answered in time; give
            // the handlers the pool's acquire timeout and a margin for the query.
            .handle_request_timeout(std::chrono::milliseconds{options.acquire_timeout_ms} +
                                    std::chrono::seconds{60})
            .acceptor_post_bind_hook([&bound](asio::ip::tcp::acceptor& acceptor) {
                bound = acceptor.local_endpoint();
            })};

    int exit_code = 0;
    server.open_async([&bound] { announce_listening("http", bound); },
                      [&io, &exit_code](std::exception_ptr error) {
                          try {
                              std::rethrow_exception(error);
                          } catch (const std::exception& e) {
                              spdlog::error("cannot listen: {}", e.what());
                          }
                          exit_code = 1;
                          io.stop();
                      });
    stop_on_signal(io, requests, [&server] { server.close_sync(); });
    io.run();
    return exit_code;
}

}  // namespace example
