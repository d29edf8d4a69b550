// The tornado-sqlalchemy "count the users" example, as an Asio program: a factory, a
// request scope per (simulated) request, and as_future to keep SOCI off the event loop.
//
//   quickstart --database-url sqlite:///app.db [--requests N] [--name NAME]
#include <asio_soci/asio_soci.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

namespace {

// One "request": add a user (ignoring duplicates), then count them, in the request's
// own session, committed explicitly.
asio::awaitable<int> handle_request(asio_soci::session_factory factory, std::string name) {
    asio_soci::request_scope scope{factory};
    asio_soci::session& s = co_await scope.session();
    co_await s.async_begin();
    int n = co_await asio_soci::as_future(s, [&](soci::session& sql) {
        int exists = 0;
        sql << "select count(*) from users where username = :name", soci::use(name),
            soci::into(exists);
        if (!exists)
            sql << "insert into users (username) values (:name)", soci::use(name);
        int count = 0;
        sql << "select count(*) from users", soci::into(count);
        return count;
    });
    co_await s.async_commit();
    co_return n;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"asio-soci quickstart: count users without blocking the event loop"};
    std::string url = "sqlite:///quickstart.db";
    std::string name = "ann";
    int requests = 10;
    app.add_option("--database-url", url, "Database URL (sqlite:///file.db, postgresql://...)");
    app.add_option("--name", name, "User name to add");
    app.add_option("--requests", requests, "Concurrent requests to simulate")
        ->check(CLI::Range(1, 100000));
    CLI11_PARSE(app, argc, argv);

    try {
        asio::io_context io;  // before the factory, which must go first (see docs/design.md)
        auto factory =
            asio_soci::make_session_factory(url, {.pool_size = 4, .acquire_timeout = 5s});

        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await asio_soci::as_future(factory, [](soci::session& sql) {
                    sql << "create table if not exists users ("
                           "id integer primary key, username varchar(100) unique not null)";
                });
            },
            [&](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
                for (int i = 0; i < requests; ++i) {
                    asio::co_spawn(io, handle_request(factory, name + std::to_string(i % 5)),
                                   [i, requests](std::exception_ptr e, int n) {
                                       if (e)
                                           std::rethrow_exception(e);
                                       if (i == requests - 1)
                                           spdlog::info("{} users so far!", n);
                                   });
                }
            });
        io.run();

        auto stats = factory.stats();
        spdlog::info(
            "pool: {} acquisitions, {} connections opened, mean wait {} us", stats.acquired_total,
            stats.connects_total,
            std::chrono::duration_cast<std::chrono::microseconds>(stats.acquire_wait.mean())
                .count());
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
