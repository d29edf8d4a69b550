#include "../support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <latch>
#include <stdexcept>

using namespace std::chrono_literals;

TEST_CASE("retry: two conflicting serializable transactions both apply exactly once",
          "[db][postgresql]") {
    test::database db;
    auto table = db.table("counter");
    db.execute("create table " + table + " (id integer primary key, value integer)");
    db.execute("insert into " + table + " values (1, 0)");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 2});

    std::atomic<int> attempts{0};
    std::latch both_have_read{2};
    auto increment = [&](soci::session& sql) {
        const int attempt = ++attempts;
        sql << "set transaction isolation level serializable";
        int value = 0;
        sql << "select value from " + table + " where id = 1", soci::into(value);
        if (attempt <= 2)
            both_have_read.arrive_and_wait();  // the first two attempts overlap: a conflict
        sql << "update " + table + " set value = :v where id = 1", soci::use(value + 1);
    };
    asio_soci::retry_policy retry{.max_attempts = 5, .initial_backoff = 1ms};
    auto first = asio_soci::as_future(factory, increment, retry, asio::use_future);
    auto second = asio_soci::as_future(factory, increment, retry, asio::use_future);
    first.get();
    second.get();
    CHECK(db.scalar("select value from " + table + " where id = 1") == 2);
    CHECK(attempts == 3);
    CHECK(factory.stats().retries_total == 1);
}

TEST_CASE("retry: a busy SQLite database is retried until the lock is free", "[db][sqlite]") {
    test::database db;
    auto table = db.create_table("busy");
    auto factory = asio_soci::make_session_factory(db.url_with("busy_timeout", "10"));
    auto insert = [&](soci::session& sql) {
        sql << "insert into " + table + " (id, name) values (1, 'one')";
    };
    // The pool's connection exists (and has switched the file to WAL) before another
    // writer takes the database.
    asio_soci::as_future(
        factory, [](soci::session&) {}, asio::use_future)
        .get();
    auto locker = db.connect();
    *locker << "begin immediate";

    // Without a retry policy the busy error is the caller's.
    CHECK_THROWS_AS(asio_soci::as_future(factory, insert, asio::use_future).get(),
                    soci::soci_error);

    auto retried = asio_soci::as_future(
        factory, insert, asio_soci::retry_policy{.max_attempts = 1000, .max_backoff = 10ms},
        asio::use_future);
    // Waits for the event "a retry happened" (or for a failure, which the get() reports).
    while (factory.stats().retries_total == 0 &&
           retried.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
        std::this_thread::yield();
    *locker << "rollback";
    retried.get();
    CHECK(db.scalar("select count(*) from " + table) == 1);
}

TEST_CASE("retry: errors that are not transient are not retried", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url());
    int attempts = 0;
    auto failing = [&](soci::session&) {
        ++attempts;
        throw std::logic_error("a bug, not a conflict");
    };
    CHECK_THROWS_AS(
        asio_soci::as_future(factory, failing, asio_soci::retry_policy{}, asio::use_future).get(),
        std::logic_error);
    CHECK(attempts == 1);
}
