// The RESTinio adapter in-process: a RESTinio server with an express router on an
// io_context thread of its own, spoken to over real sockets by the test's thread.
#include "example_support.hpp"
#include "support.hpp"

#include <asio_soci/as_future.hpp>
#include <asio_soci/restinio.hpp>

#include <asio/io_context.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using router_t = restinio::router::express_router_t<>;
using traits_t =
    restinio::traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t, router_t>;
using request_handle = restinio::request_handle_t;

// A RESTinio server on a loopback port of its own, with `io` run by one thread of its
// own.
class adapter_server {
public:
    adapter_server(asio::io_context& io, std::unique_ptr<router_t> router)
        : io_(io),
          server_{restinio::external_io_context(io),
                  restinio::server_settings_t<traits_t>{}
                      .address("127.0.0.1")
                      .port(0)
                      .request_handler(std::move(router))
                      .acceptor_post_bind_hook([this](asio::ip::tcp::acceptor& acceptor) {
                          port_ = acceptor.local_endpoint().port();
                      })} {
        std::promise<void> opened;
        server_.open_async([&opened] { opened.set_value(); },
                           [&opened](std::exception_ptr e) { opened.set_exception(e); });
        thread_ = std::thread{[this] { io_.run(); }};
        opened.get_future().get();
    }

    ~adapter_server() { stop(); }

    unsigned short port() const { return port_; }

    // Closes the acceptor and stops the thread.
    void stop() {
        if (!thread_.joinable())
            return;
        std::promise<void> closed;
        server_.close_async([&closed] { closed.set_value(); },
                            [&closed](std::exception_ptr) { closed.set_value(); });
        closed.get_future().get();
        io_.stop();
        thread_.join();
    }

private:
    asio::io_context& io_;
    unsigned short port_ = 0;
    restinio::http_server_t<traits_t> server_;
    std::thread thread_;
};

void respond(const request_handle& req, restinio::http_status_line_t status, std::string body) {
    req->create_response(std::move(status))
        .append_header(restinio::http_field::content_type, "text/plain; charset=utf-8")
        .set_body(std::move(body))
        .done();
}

}  // namespace

TEST_CASE(
    "restinio: errors become 500 without details (503 when the database is busy or down), "
    "and the transaction is rolled back",
    "[db][examples]") {
    test::database db;
    auto table = db.create_table("adapter");
    // One connection: every request below gets the one the failed request used.
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    std::ostringstream log;  // read once the server's thread has stopped
    auto logger = std::make_shared<spdlog::logger>(
        "adapter", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
    asio::io_context io;
    auto handler = [&](auto coroutine) {
        return asio_soci::restinio_handler(io.get_executor(), factory, std::move(coroutine),
                                           {.logger = logger});
    };
    auto router = std::make_unique<router_t>();
    router->http_post(
        "/fail",
        handler([&](request_handle, asio_soci::request_scope& scope) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            co_await asio_soci::as_future(s, [&](soci::session& sql) {
                sql << "insert into " + table + " (id, name) values (1, 'half done')";
            });
            throw std::runtime_error("insert into secret_table values ('password=hunter2')");
        }));
    router->http_get(
        "/count",
        handler([&](request_handle req, asio_soci::request_scope& scope) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            int n = co_await asio_soci::as_future(s, [&](soci::session& sql) {
                int count = 0;
                sql << "select count(*) from " + table, soci::into(count);
                return count;
            });
            respond(req, restinio::status_ok(), std::to_string(n));
        }));
    // A database that cannot be reached (a SQLite file in a directory that does not exist).
    auto unreachable = asio_soci::make_session_factory("sqlite:///nonexistent-asio-soci-dir/app.db",
                                                       {.pool_size = 1});
    router->http_get(
        "/unreachable",
        asio_soci::restinio_handler(io.get_executor(), unreachable,
                                    [](request_handle, asio_soci::request_scope& scope)
                                        -> asio::awaitable<void> { co_await scope.session(); },
                                    {.retry_after = std::chrono::seconds{7}, .logger = logger}));
    router->http_post(
        "/duplicate",
        handler([&](request_handle, asio_soci::request_scope& scope) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            co_await asio_soci::as_future(s, [&](soci::session& sql) {
                const std::string name = "ann-private@example.org";
                for (int i = 0; i < 2; ++i)  // the second insert breaks the unique constraint
                    sql << "insert into " + table + " (id, name) values (" +
                               std::to_string(10 + i) + ", :name)",
                        soci::use(name);
            });
        }));
    router->http_get(
        "/silent", handler([](request_handle, asio_soci::request_scope&) -> asio::awaitable<void> {
            co_return;
        }));
    router->http_get(
        "/answered-then-failed",
        handler([](request_handle req, asio_soci::request_scope&) -> asio::awaitable<void> {
            respond(req, restinio::status_ok(), "fine");
            throw std::runtime_error("after the response");
            co_return;
        }));
    router->http_get("/items/:id",
                     handler([](request_handle req, restinio::router::route_params_t params,
                                asio_soci::request_scope&) -> asio::awaitable<void> {
                         respond(req, restinio::status_ok(), "item " + std::string{params["id"]});
                         co_return;
                     }));
    adapter_server server{io, std::move(router)};
    const auto port = server.port();

    // "STATUS BODY" of one request, for a readable comparison.
    auto answer = [port](const char* method, const char* target) {
        auto response = test::http(port, method, target);
        return std::to_string(response.status) + " " + response.body;
    };
    CHECK(answer("POST", "/fail") == "500 Internal Server Error\n");
    // The failed request's insert was rolled back, not committed, before its connection
    // served the next request.
    CHECK(answer("GET", "/count") == "200 0");
    CHECK(db.scalar("select count(*) from " + table) == 0);
    CHECK(answer("POST", "/duplicate") == "500 Internal Server Error\n");
    CHECK(answer("GET", "/silent") == "500 Internal Server Error\n");
    const auto down = test::http(port, "GET", "/unreachable");
    CHECK(down.status == 503);
    CHECK(down.headers.at("retry-after") == "7");
    CHECK(down.body == "Service Unavailable: the database cannot be reached, retry later\n");
    CHECK(answer("GET", "/answered-then-failed") == "200 fine");
    CHECK(answer("GET", "/items/42") == "200 item 42");

    server.stop();
    const std::string logged = log.str();
    CHECK_THAT(logged, Catch::Contains("POST /fail failed: insert into secret_table"));
    // The failed statement is logged with its text, never with the values bound to it.
    CHECK_THAT(logged, Catch::Contains("POST /duplicate failed: ") &&
                           Catch::Contains("values (11, :name)") &&
                           !Catch::Contains("ann-private"));
    CHECK_THAT(logged,
               Catch::Contains("GET /silent: the handler returned without sending a response"));
    CHECK_THAT(logged, Catch::Contains("GET /answered-then-failed failed: after the response"));
    asio::io_context client;
    CHECK(test::run(client, factory.async_acquire()));  // every session went back
}
