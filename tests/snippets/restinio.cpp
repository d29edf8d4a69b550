// The RESTinio blocks of README.md and docs/restinio.md (the README shows the handler
// part of the server), compiled with the tests; check_snippets.cpp keeps the docs equal
// to the regions below.
// The layout is the docs', which show these regions verbatim: not reformatted.
// clang-format off

// [snippet restinio-server]
#include <asio_soci/asio_soci.hpp>
#include <asio_soci/restinio.hpp>

// [hide]
using namespace std::chrono_literals;

void serve(const std::string& url) {
    // [show]
    asio::io_context io;
    auto factory = asio_soci::make_session_factory(url, {.pool_size = 8, .acquire_timeout = 5s});

    auto router = std::make_unique<restinio::router::express_router_t<>>();
    // [snippet restinio-handler]
    router->http_get("/", asio_soci::restinio_handler(io.get_executor(), factory,
        [](restinio::request_handle_t req, asio_soci::request_scope& scope) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            long long n = co_await asio_soci::as_future(s, [](soci::session& sql) {
                long long n = 0;
                sql << "select count(*) from users", soci::into(n);
                return n;
            });
            req->create_response().set_body(fmt::format("{} users so far!", n)).done();
        }));  // sessions go back (rolled back if uncommitted) when the coroutine ends
    // [end]

    using traits = restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t,
                                      restinio::router::express_router_t<>>;
    restinio::http_server_t<traits> server{restinio::external_io_context(io),
        restinio::server_settings_t<traits>{}.port(8080).request_handler(std::move(router))};
    asio::post(io, [&] { server.open_sync(); });
    io.run();
    // [hide]
}
// [end]
