// Built against an installed asio_soci by tests/consumer/run.cmake: a factory, a pooled
// SQLite connection and a one-shot as_future, so that every link dependency the package
// exports (SOCI's core and backend, sqlite3, threads) is needed and checked.
#include <asio_soci/asio_soci.hpp>

#include <asio/use_future.hpp>

#include <soci/soci.h>

#include <exception>
#include <iostream>
#include <string>

#ifdef CONSUMER_WITH_RESTINIO
#include <asio_soci/restinio.hpp>

#include <asio/io_context.hpp>

// Compiles the adapter's handler into an express router (never served).
static void build_router(asio::io_context& io, const asio_soci::session_factory& factory) {
    restinio::router::express_router_t<> router;
    router.http_get(
        "/", asio_soci::restinio_handler(io.get_executor(), factory,
                                         [](restinio::request_handle_t req,
                                            asio_soci::request_scope&) -> asio::awaitable<void> {
                                             req->create_response().set_body("ok").done();
                                             co_return;
                                         }));
}
#endif

int main() {
    try {
        auto factory = asio_soci::make_session_factory("sqlite://");
#ifdef CONSUMER_WITH_RESTINIO
        asio::io_context io;
        build_router(io, factory);
#endif
        const int answer = asio_soci::as_future(
                               factory,
                               [](soci::session& sql) {
                                   int n = 0;
                                   sql << "select 40 + 2", soci::into(n);
                                   return n;
                               },
                               asio::use_future)
                               .get();
        std::cout << factory.url().to_string() << ' ' << answer << '\n';
        return answer == 42 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "consumer: " << e.what() << '\n';
        return 1;
    }
}
