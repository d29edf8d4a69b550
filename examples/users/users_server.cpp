// Tornado-sqlalchemy's example as a RESTinio server: a users table, counted three ways (a
// blocking handler on a worker thread, a callback, a coroutine), and added to.
//
//   users_server [--database-url URL] [--address ADDR] [--port N]
//                [--pool-size N] [--acquire-timeout-ms MS] [--max-waiting N]
//                [--enable-slow-endpoint]
//
// At start-up it applies the users table's migrations (embedded in the binary).
//
//   GET  /, /coroutine     "N users so far!" from a coroutine with a request_scope
//   GET  /callback         the same from a completion callback
//   GET  /sync             the same from blocking code on a worker thread
//   GET  /zero-hop         the same through asio_soci::pg, from the io thread (PostgreSQL;
//                          501 on SQLite)
//   POST /users            adds a user: form (username=...) or JSON ({"username": "..."})
//   GET  /health           "ok", touches no database
//   GET  /stats            the pool's gauges
//   GET  /slow?ms=N        holds a connection for N ms (--enable-slow-endpoint only)
#include "../common/restinio_server.hpp"
#include "../common/server.hpp"
#include "../common/users_table.hpp"

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/postgresql.hpp>
#include <asio_soci/restinio.hpp>

#include <asio/bind_executor.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace {

using request_handle = restinio::request_handle_t;

// The string value of `"field": "..."` in a flat JSON object; nothing when absent or
// not a string. Enough for {"username": "..."} without a JSON library.
std::optional<std::string> json_string_field(std::string_view json, std::string_view field) {
    const std::string key = "\"" + std::string{field} + "\"";
    auto at = json.find(key);
    if (at == std::string_view::npos)
        return std::nullopt;
    at = json.find_first_not_of(" \t\r\n", at + key.size());
    if (at == std::string_view::npos || json[at] != ':')
        return std::nullopt;
    at = json.find_first_not_of(" \t\r\n", at + 1);
    if (at == std::string_view::npos || json[at] != '"')
        return std::nullopt;
    std::string value;
    for (++at; at < json.size(); ++at) {
        char c = json[at];
        if (c == '"')
            return value;
        if (c == '\\') {
            if (++at == json.size())
                return std::nullopt;
            switch (json[at]) {
                case 'n':
                    c = '\n';
                    break;
                case 't':
                    c = '\t';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 'b':
                    c = '\b';
                    break;
                case 'f':
                    c = '\f';
                    break;
                case '"':
                case '\\':
                case '/':
                    c = json[at];
                    break;
                default:
                    return std::nullopt;  // \uXXXX: not needed by the example
            }
        }
        value += c;
    }
    return std::nullopt;
}

// The username of a POST /users body, form-encoded or JSON.
std::string posted_username(const restinio::request_t& req) {
    const auto content_type =
        req.header().get_field_or(restinio::http_field::content_type, std::string{});
    if (content_type.find("application/json") != std::string::npos)
        return json_string_field(req.body(), "username").value_or("");
    auto form =
        restinio::try_parse_query<restinio::parse_query_traits::x_www_form_urlencoded>(req.body());
    if (!form)
        return {};
    auto name = form->get_param("username");
    return name ? std::string{name->data(), name->size()} : std::string{};
}

std::string users_so_far(long long count) {
    return std::to_string(count) + " users so far!\n";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci users example: a RESTinio server counting and adding users"};
    example::server_options options;
    example::add_server_options(app, options, example::sqlite_url_next_to_executable("users.db"));
    bool enable_slow_endpoint = false;
    app.add_flag("--enable-slow-endpoint", enable_slow_endpoint,
                 "Serve GET /slow?ms=N, which holds a connection for N ms (for tests)");
    CLI11_PARSE(app, argc, argv);

    example::log_to_stderr();
    try {
        // Before the factory, so it outlives it: the pool, when it goes, finishes the calls
        // still running on its workers, which complete on this io_context.
        asio::io_context io;
        auto factory =
            asio_soci::make_session_factory(options.database_url, example::pool_options(options));
        spdlog::info("database {}", factory.url().to_string());

        example::in_flight requests;
        auto adapter_options = example::adapter_options(requests);
        auto coroutine = [&](auto handler) {
            return asio_soci::restinio_handler(io.get_executor(), factory, std::move(handler),
                                               adapter_options);
        };
        // Blocking code (tornado-sqlalchemy's synchronous handler) runs here, never on `io`.
        asio::thread_pool blocking_workers{2};

        example::upgrade_schema(factory, example::users_migrations(factory.url().backend()),
                                options);

        auto router = std::make_unique<example::router_t>();
        auto count = [&](request_handle req,
                         asio_soci::request_scope& scope) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            long long n = co_await asio_soci::as_future(
                s, [&](soci::session& sql) { return example::count_users(sql); });
            example::respond(req, restinio::status_ok(), users_so_far(n));
        };
        router->http_get("/", coroutine(count));
        router->http_get("/coroutine", coroutine(count));
        // PostgreSQL's fast path: the query goes out from the io thread, no worker involved.
        const bool postgresql = factory.url().backend() == asio_soci::backend::postgresql;
        router->http_get(
            "/zero-hop", coroutine([&](request_handle req,
                                       asio_soci::request_scope& scope) -> asio::awaitable<void> {
                if (!postgresql) {
                    example::respond(req, restinio::status_not_implemented(),
                                     "the zero-hop API needs PostgreSQL\n");
                    co_return;
                }
                asio_soci::session& s = co_await scope.session();
                auto r = co_await asio_soci::pg::async_query(s, "select count(*) from users");
                example::respond(req, restinio::status_ok(),
                                 users_so_far(r.front().get<long long>(0)));
            }));

        // The last step of /callback and /sync, on the io_context.
        auto answer_count = [&](const request_handle& req, std::exception_ptr error, long long n) {
            if (error)
                asio_soci::respond_if_unanswered(*req, error);
            else
                example::respond(req, restinio::status_ok(), users_so_far(n));
            requests.finish();
        };

        router->http_get("/callback", [&](request_handle req, restinio::router::route_params_t) {
            requests.start();
            asio_soci::as_future(
                factory, [&](soci::session& sql) { return example::count_users(sql); },
                asio::bind_executor(io, [&, req](std::exception_ptr error, long long n) {
                    answer_count(req, error, n);
                }));
            return restinio::request_accepted();
        });

        router->http_get("/sync", [&](request_handle req, restinio::router::route_params_t) {
            requests.start();
            asio::post(blocking_workers, [&, req] {
                std::exception_ptr error;
                long long n = 0;
                try {
                    // Blocks this worker thread (not `io`) until a connection is free
                    // and the query has run.
                    asio_soci::session s = factory.async_acquire(asio::use_future).get();
                    n = asio_soci::as_future(
                            s, [&](soci::session& sql) { return example::count_users(sql); },
                            asio::use_future)
                            .get();
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(io, [&, req, error, n] { answer_count(req, error, n); });
            });
            return restinio::request_accepted();
        });

        router->http_post(
            "/users", coroutine([&](request_handle req,
                                    asio_soci::request_scope& scope) -> asio::awaitable<void> {
                std::string username = posted_username(*req);
                if (auto problem = example::invalid_username(username)) {
                    example::respond(req, restinio::status_bad_request(), *problem + "\n");
                    co_return;
                }
                asio_soci::session& s = co_await scope.session();
                bool added = co_await asio_soci::as_future(
                    s, [&](soci::session& sql) { return example::add_user(sql, username); });
                co_await s.async_commit();  // without it, the scope's end rolls back
                if (added)
                    example::respond(req, restinio::status_created(), "added " + username + "\n");
                else
                    example::respond(req, restinio::status_conflict(),
                                     "username already taken: " + username + "\n");
            }));

        router->http_get("/health", [](request_handle req, restinio::router::route_params_t) {
            example::respond(req, restinio::status_ok(), "ok\n");
            return restinio::request_accepted();
        });

        router->http_get("/stats", [&](request_handle req, restinio::router::route_params_t) {
            auto stats = factory.stats();
            example::respond(req, restinio::status_ok(),
                             fmt::format("size={} open={} idle={} in_use={} waiting={} "
                                         "timeouts={}\n",
                                         stats.size, stats.open, stats.idle, stats.in_use,
                                         stats.waiting, stats.timeouts_total));
            return restinio::request_accepted();
        });

        if (enable_slow_endpoint) {
            router->http_get(
                "/slow", coroutine([](request_handle req,
                                      asio_soci::request_scope& scope) -> asio::awaitable<void> {
                    auto query = restinio::parse_query(req->header().query());
                    const int ms = restinio::value_or(query, "ms", 100);
                    asio_soci::session& s = co_await scope.session();
                    co_await asio_soci::as_future(s, [ms](soci::session& sql) {
                        if (sql.get_backend_name() == "postgresql") {
                            double seconds = ms / 1000.0;
                            sql << "select pg_sleep(:seconds)", soci::use(seconds);
                        } else {
                            // SQLite has no sleep(): hold the connection on the worker.
                            int one = 0;
                            sql << "select 1", soci::into(one);
                            std::this_thread::sleep_for(std::chrono::milliseconds{ms});
                        }
                    });
                    example::respond(req, restinio::status_ok(),
                                     "held a connection for " + std::to_string(ms) + " ms\n");
                }));
        }

        int exit_code = example::serve(io, options, std::move(router), requests);
        blocking_workers.join();
        return exit_code;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
