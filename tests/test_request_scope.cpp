#include "support.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace std::chrono_literals;

TEST_CASE("request_scope: session() is lazy and returns the same session every time", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 3});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        asio_soci::request_scope scope{factory};
        CHECK(scope.session_count() == 0);
        CHECK(factory.stats().acquired_total == 0);
        asio_soci::session& a = co_await scope.session();
        asio_soci::session& b = co_await scope.session();
        CHECK(&a == &b);
        asio_soci::session& other = co_await scope.make_session();
        CHECK(&other != &a);
        CHECK(scope.session_count() == 2);
        CHECK(factory.stats().in_use == 2);
    }());
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("request_scope: sessions go back after an exception", "[db]") {
    test::database db;
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .acquire_timeout = 10s});
    asio::io_context io;
    CHECK_THROWS_AS(test::run(io,
                              [&]() -> asio::awaitable<void> {
                                  asio_soci::request_scope scope{factory};
                                  asio_soci::session& s = co_await scope.session();
                                  co_await asio_soci::as_future(s, [](soci::session& sql) {
                                      sql << "select * from missing_table";
                                  });
                              }()),
                    soci::soci_error);
    // The pool of one hands out its connection again (after rolling back the failed
    // transaction on a worker).
    CHECK(test::run(io, factory.async_acquire()));
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("request_scope: sessions go back when the coroutine is cancelled", "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto table = db.create_table("cancelled_request");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    std::atomic<bool> fn_started{false};
    bool fn_finished = false;

    auto request = [&]() -> asio::awaitable<void> {
        asio_soci::request_scope scope{factory};
        asio_soci::session& s = co_await scope.session();
        auto insert_then_wait = [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'x')";
            fn_started = true;
            try {
                sql << db.slow_statement();  // interrupted by the cancellation
            } catch (const soci::soci_error&) {
            }
            fn_finished = true;
        };
        co_await asio_soci::as_future(s, insert_then_wait);
        co_await s.async_commit();  // never reached
    };
    // The request is cancelled once its statement runs.
    test::run(io, [&]() -> asio::awaitable<void> {
        co_await (request() || test::wait_until(fn_started));
    }());
    CHECK(fn_finished);  // the request ended only after its function had returned

    // The session went back, rolled back: the pool's only connection sees no row.
    const int seen = test::run(io, asio_soci::as_future(factory, [&](soci::session& sql) {
                                   int n = -1;
                                   sql << "select count(*) from " + table, soci::into(n);
                                   return n;
                               }));
    CHECK(seen == 0);
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("request_scope: named binds give a session per database", "[db]") {
    test::database users_db;
    test::database events_db;
    auto users_table = users_db.create_table("users");
    auto events_table = events_db.create_table("events");
    asio_soci::database_binds binds{
        {"default", asio_soci::make_session_factory(users_db.url())},
        {"analytics", asio_soci::make_session_factory(events_db.url())}};
    CHECK_THROWS_AS(binds.add("analytics", asio_soci::make_session_factory(events_db.url())),
                    std::invalid_argument);
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        asio_soci::request_scope scope{binds};
        asio_soci::session& users = co_await scope.session();
        asio_soci::session& events = co_await scope.session("analytics");
        CHECK(&users != &events);
        CHECK(&users == &(co_await scope.session("default")).get());
        co_await asio_soci::as_future(users, [&](soci::session& sql) {
            sql << "insert into " + users_table + " (id, name) values (1, 'ann')";
        });
        co_await asio_soci::as_future(events, [&](soci::session& sql) {
            sql << "insert into " + events_table + " (id, name) values (1, 'signup')";
        });
        co_await users.async_commit();
        co_await events.async_commit();
        CHECK_THROWS_AS(co_await scope.session("nowhere"), std::out_of_range);
    }());
    CHECK(users_db.scalar("select count(*) from " + users_table) == 1);
    CHECK(events_db.scalar("select count(*) from " + events_table) == 1);
}
