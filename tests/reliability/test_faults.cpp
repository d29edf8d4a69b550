#include "../support.hpp"
#include "private_postgres.hpp"

#include <asio_soci/migrations.hpp>

#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

// Waits (yielding) until `done()` or `limit` has passed; returns done().
template <class Predicate>
bool wait_for_event(Predicate done, steady_clock::duration limit) {
    const auto deadline = steady_clock::now() + limit;
    while (!done() && steady_clock::now() < deadline)
        std::this_thread::yield();
    return done();
}

auto select_one = [](soci::session& sql) {
    int one = 0;
    sql << "select 1", soci::into(one);
    return one;
};

}  // namespace

TEST_CASE("faults: the pool recovers from a database restart under load", "[db][postgresql]") {
    test::private_postgres server;
    constexpr std::size_t pool_size = 8;
    constexpr int clients = 64;
    auto factory = asio_soci::make_session_factory(
        server.url("", "application_name=asio_soci_restart_test&connect_timeout=5"),
        {.pool_size = pool_size, .acquire_timeout = 10s});
    asio::io_context io;

    std::atomic<bool> stop{false}, restarted{false};
    std::atomic<long> ok_before{0}, ok_after{0}, failed{0}, unexpected{0};
    std::atomic<steady_clock::rep> back_at{0}, first_ok_after{0};

    auto client = [&]() -> asio::awaitable<void> {
        asio::steady_timer pause{io};
        while (!stop) {
            try {
                co_await asio_soci::as_future(factory, select_one);
                if (!restarted) {
                    ++ok_before;
                    continue;
                }
                steady_clock::rep none = 0;
                first_ok_after.compare_exchange_strong(
                    none, steady_clock::now().time_since_epoch().count());
                ++ok_after;
                continue;
            } catch (const soci::soci_error&) {  // in flight when the server went away
                ++failed;
            } catch (const asio_soci::connection_error&) {  // while it was down
                ++failed;
            } catch (...) {
                ++unexpected;
            }
            pause.expires_after(5ms);  // a client backs off a little after an error
            co_await pause.async_wait(asio::use_awaitable);
        }
    };
    for (int i = 0; i < clients; ++i)
        asio::co_spawn(io, client(), asio::detached);

    std::thread controller{[&] {
        REQUIRE(wait_for_event([&] { return ok_before >= 500; }, 60s));
        server.restart();  // returns once the server accepts connections again
        back_at = steady_clock::now().time_since_epoch().count();
        restarted = true;
        wait_for_event([&] { return ok_after >= 500; }, 60s);
        stop = true;
    }};
    io.run();
    controller.join();

    INFO("before " << ok_before << ", failed " << failed << ", after " << ok_after);
    CHECK(unexpected == 0);
    CHECK(ok_after >= 500);
    const auto recovery = steady_clock::duration{first_ok_after - back_at};
    INFO("first success " << std::chrono::duration_cast<std::chrono::milliseconds>(recovery).count()
                          << " ms after the server was back");
    CHECK(recovery <= 2s);

    REQUIRE(wait_for_event([&] { return factory.stats().in_use == 0; }, 10s));
    auto stats = factory.stats();
    CHECK(stats.open <= pool_size);
    soci::session admin(soci::postgresql,
                        asio_soci::database_url::parse(server.url()).soci_connect_string());
    int connections = 0;
    admin << "select count(*) from pg_stat_activity "
             "where application_name = 'asio_soci_restart_test'",
        soci::into(connections);
    CHECK(connections <= static_cast<int>(pool_size));
}

TEST_CASE("faults: a database down at start-up fails clearly, backs off, then recovers",
          "[db][postgresql]") {
    test::private_postgres server;
    server.stop();
    auto factory = asio_soci::make_session_factory(server.url("s3cret-pw", "connect_timeout=2"),
                                                   {.pool_size = 2});
    const std::string where = "127.0.0.1:" + std::to_string(server.port());
    for (int i = 0; i < 100; ++i) {
        try {
            asio_soci::as_future(factory, select_one, asio::use_future).get();
            FAIL("connected to a stopped server");
        } catch (const asio_soci::connection_error& e) {
            const std::string message = e.what();
            CHECK_THAT(message, Catch::Contains(where) && !Catch::Contains("s3cret-pw"));
        }
    }
    // A hundred acquisitions in a burst, but the backoff let through only a few attempts.
    CHECK(factory.stats().connect_failures_total <= 3);

    server.start();
    const bool recovered = wait_for_event(
        [&] {
            try {
                return asio_soci::as_future(factory, select_one, asio::use_future).get() == 1;
            } catch (const asio_soci::connection_error&) {
                return false;  // still in the backoff of the last failure
            }
        },
        10s);
    CHECK(recovered);
}

TEST_CASE("faults: migrations at start-up wait for a database that is not up yet",
          "[db][postgresql]") {
    test::private_postgres server;
    server.stop();
    test::log_watch waiting{"waiting for the database"};
    auto factory = asio_soci::make_session_factory(server.url("", "connect_timeout=2"),
                                                   {.pool_size = 1, .logger = waiting.logger});
    asio_soci::migration_set migrations{
        std::vector<asio_soci::migration>{{.revision = "0001",
                                           .name = "create",
                                           .upgrade_sql = "create table waited (id integer);",
                                           .downgrade_sql = std::nullopt}}};
    asio::io_context io;
    auto upgraded = std::async(std::launch::async, [&] {
        return test::run(
            io, asio_soci::async_upgrade_to_head(factory, migrations, {.wait_for_database = 60s}));
    });
    waiting.seen.wait();  // it failed and is waiting to try again
    server.start();
    CHECK(upgraded.get() == std::vector<std::string>{"0001"});
}

TEST_CASE("faults: connections the server closes while idle are replaced", "[db][postgresql]") {
    test::database db;
    // The server ends sessions idle for 200 ms (PostgreSQL's idle_session_timeout).
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .on_connect = [](soci::session& sql) {
                       sql << "set idle_session_timeout = 200";
                   }});
    auto backend_pid = [](soci::session& sql) {
        int pid = 0;
        sql << "select pg_backend_pid()", soci::into(pid);
        return pid;
    };
    const int first = asio_soci::as_future(factory, backend_pid, asio::use_future).get();
    auto admin = db.connect();
    auto gone = [&] {
        int alive = 0;
        *admin << "select count(*) from pg_stat_activity where pid = :p", soci::use(first),
            soci::into(alive);
        return alive == 0;
    };
    REQUIRE(wait_for_event(gone, 10s));  // the event: the server ended the idle session
    const int second = asio_soci::as_future(factory, backend_pid, asio::use_future).get();
    CHECK(second != first);
    CHECK(factory.stats().discarded_total == 1);
}
