// Two named databases in one request (tornado-sqlalchemy's `binds`): a signup writes the user to
// the "default" database and an event to the "analytics" one, and reports both counts.
//
//   multiple_databases_server [--database-url URL] [--analytics-url URL]
//                             [--address ADDR] [--port N]
//                             [--pool-size N] [--acquire-timeout-ms MS] [--max-waiting N]
//
// At start-up it applies each database's migrations (embedded in the binary): the users
// table's to "default", the events table's to "analytics".
//
//   GET  /          "users: N, events: M"
//   POST /signup    form username=...: adds the user and a "signup" event, then as GET /
//   GET  /health    "ok", touches no database
#include "../common/restinio_server.hpp"
#include "../common/server.hpp"
#include "../common/users_table.hpp"

#include "events_postgresql_migrations.hpp"
#include "events_sqlite_migrations.hpp"

#include <asio_soci/asio_soci.hpp>
#include <asio_soci/restinio.hpp>

#include <asio/use_future.hpp>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <string>

namespace {

using request_handle = restinio::request_handle_t;

long long count_events(soci::session& sql) {
    long long count = 0;
    sql << "select count(*) from events", soci::into(count);
    return count;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci multiple databases example: two named binds in one request"};
    example::server_options options;
    example::add_server_options(app, options, example::sqlite_url_next_to_executable("users.db"));
    std::string analytics_url = example::sqlite_url_next_to_executable("analytics.db");
    app.add_option("--analytics-url", analytics_url, "URL of the \"analytics\" database")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    example::log_to_stderr();
    try {
        // Before the factory, so it outlives it: the pool, when it goes, finishes the calls
        // still running on its workers, which complete on this io_context.
        asio::io_context io;
        asio_soci::database_binds binds{
            {"default",
             asio_soci::make_session_factory(options.database_url, example::pool_options(options))},
            {"analytics",
             asio_soci::make_session_factory(analytics_url, example::pool_options(options))}};
        spdlog::info("databases: default {}, analytics {}", binds.at("default").url().to_string(),
                     binds.at("analytics").url().to_string());
        const auto& users = binds.at("default");
        const auto& analytics = binds.at("analytics");
        example::upgrade_schema(users, example::users_migrations(users.url().backend()), options);
        // A version table of its own, so that both sets can share one database.
        example::upgrade_schema(
            analytics,
            example::migrations_for(analytics.url().backend(), events_postgresql_migrations(),
                                    events_sqlite_migrations()),
            options, "analytics_migrations");

        example::in_flight requests;
        auto coroutine = [&](auto handler) {
            return asio_soci::restinio_handler(io.get_executor(), binds, std::move(handler),
                                               example::adapter_options(requests));
        };

        // Both counts, each from its own database, as the response body.
        auto report = [&](asio_soci::request_scope& scope) -> asio::awaitable<std::string> {
            asio_soci::session& user_db = co_await scope.session();
            asio_soci::session& analytics_db = co_await scope.session("analytics");
            long long n_users = co_await asio_soci::as_future(
                user_db, [&](soci::session& sql) { return example::count_users(sql); });
            long long n_events = co_await asio_soci::as_future(
                analytics_db, [&](soci::session& sql) { return count_events(sql); });
            co_return "users: " + std::to_string(n_users) +
                ", events: " + std::to_string(n_events) + "\n";
        };

        auto router = std::make_unique<example::router_t>();
        router->http_get("/",
                         coroutine([&](request_handle req,
                                       asio_soci::request_scope& scope) -> asio::awaitable<void> {
                             example::respond(req, restinio::status_ok(), co_await report(scope));
                         }));

        router->http_post(
            "/signup", coroutine([&](request_handle req,
                                     asio_soci::request_scope& scope) -> asio::awaitable<void> {
                auto form =
                    restinio::try_parse_query<restinio::parse_query_traits::x_www_form_urlencoded>(
                        req->body());
                auto param = form ? form->get_param("username")
                                  : restinio::optional_t<restinio::string_view_t>{};
                std::string username = param ? std::string{param->data(), param->size()} : "";
                if (auto problem = example::invalid_username(username)) {
                    example::respond(req, restinio::status_bad_request(), *problem + "\n");
                    co_return;
                }
                asio_soci::session& user_db = co_await scope.session();
                asio_soci::session& analytics_db = co_await scope.session("analytics");
                // Two databases, two transactions: the user is committed first, so an
                // event never names a user that does not exist. Whatever is not
                // committed when the request fails is rolled back by the scope.
                co_await user_db.async_begin();
                co_await analytics_db.async_begin();
                bool added = co_await asio_soci::as_future(
                    user_db, [&](soci::session& sql) { return example::add_user(sql, username); });
                if (!added) {
                    example::respond(req, restinio::status_conflict(),
                                     "username already taken: " + username + "\n");
                    co_return;
                }
                co_await asio_soci::as_future(analytics_db, [&](soci::session& sql) {
                    std::string kind = "signup";
                    sql << "insert into events (kind, subject) values (:kind, :subject)",
                        soci::use(kind), soci::use(username);
                });
                co_await user_db.async_commit();
                co_await analytics_db.async_commit();
                example::respond(req, restinio::status_created(), co_await report(scope));
            }));

        router->http_get("/health", [](request_handle req, restinio::router::route_params_t) {
            example::respond(req, restinio::status_ok(), "ok\n");
            return restinio::request_accepted();
        });

        return example::serve(io, options, std::move(router), requests);
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
