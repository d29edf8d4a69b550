#include "support.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>

using namespace std::chrono_literals;

namespace {

bool is_aborted(std::exception_ptr e) {
    try {
        if (e)
            std::rethrow_exception(e);
    } catch (const asio::system_error& error) {
        return error.code() == asio::error::operation_aborted;
    } catch (...) {
    }
    return false;
}

}  // namespace

TEST_CASE("cancellation: before fn starts, fn never runs", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());

    std::promise<void> unblock;
    auto blocker = unblock.get_future().share();
    // The first call occupies the session's strand; the second queues behind it.
    auto first = asio_soci::as_future(
        s, [&](soci::session&) { blocker.wait(); }, asio::use_future);
    std::atomic<bool> second_ran{false};
    asio::cancellation_signal signal;
    std::exception_ptr second_error;
    bool second_done = false;
    asio_soci::as_future(
        s, [&](soci::session&) { second_ran = true; },
        asio::bind_cancellation_slot(signal.slot(),
                                     asio::bind_executor(io, [&](std::exception_ptr e) {
                                         second_error = e;
                                         second_done = true;
                                     })));
    signal.emit(asio::cancellation_type::terminal);
    io.restart();
    io.run();  // completes the second call: it does not wait for the first
    CHECK(second_done);
    CHECK(is_aborted(second_error));
    unblock.set_value();
    first.get();
    // The strand has run past the cancelled call by now: a later call proves it.
    asio_soci::as_future(
        s, [](soci::session&) {}, asio::use_future)
        .get();
    CHECK_FALSE(second_ran);
}

TEST_CASE("cancellation: while fn runs, the caller resumes at once", "[db]") {
    test::database db;
    auto table = db.create_table("abandoned");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    std::promise<void> unblock;
    auto blocker = unblock.get_future().share();
    std::atomic<bool> started{false}, finished{false};

    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        // Cancelled once fn runs, inside the transaction the call began.
        asio::cancellation_signal signal;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await test::wait_until(started);
                signal.emit(asio::cancellation_type::terminal);
            },
            asio::detached);
        std::error_code error;
        try {
            co_await asio_soci::as_future(
                s,
                [&](soci::session& sql) {
                    sql << "insert into " + table + " (id, name) values (1, 'abandoned')";
                    started = true;
                    blocker.wait();
                    finished = true;
                },
                asio::bind_cancellation_slot(signal.slot(), asio::use_awaitable));
        } catch (const asio::system_error& e) {
            error = e.code();
        }
        CHECK(error == asio::error::operation_aborted);
        CHECK_FALSE(finished);  // the caller resumed while fn still ran
    }());  // the session goes back here, with fn still running in its transaction
    // The connection is still busy with fn: nobody gets it until fn has finished, and
    // the transaction it left open has been rolled back.
    CHECK(test::next_acquisition_sees(io, factory, finished, [&] { unblock.set_value(); }));
    CHECK(db.scalar("select count(*) from " + table) == 0);
}

TEST_CASE("cancellation: acquisition leaves the queue when cancelled", "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto held = co_await factory.async_acquire();
        asio::steady_timer deadline{io, 10ms};
        auto result =
            co_await (factory.async_acquire() || deadline.async_wait(asio::use_awaitable));
        CHECK(result.index() == 1);
        CHECK(factory.stats().waiting == 0);
        held.release();
        auto again = co_await factory.async_acquire();
        CHECK(static_cast<bool>(again));
    }());
    CHECK(factory.stats().timeouts_total == 0);
}

TEST_CASE("cancellation: the one-shot form never commits a cancelled call", "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto table = db.create_table("cancelled");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    std::promise<void> unblock;
    auto blocker = unblock.get_future().share();
    std::atomic<bool> inserted{false};
    test::run(io, [&]() -> asio::awaitable<void> {
        auto result = co_await (asio_soci::as_future(factory,
                                                     [&](soci::session& sql) {
                                                         sql << "insert into " + table +
                                                                    " (id, name) values (1, 'x')";
                                                         inserted = true;
                                                         blocker.wait();
                                                     }) ||
                                test::wait_until(inserted));
        CHECK(result.index() == 1);  // cancelled after the insert, before the commit
    }());
    unblock.set_value();
    // The next one-shot call waits for the connection, so it sees the rollback.
    int n = test::run(io, asio_soci::as_future(factory, [&](soci::session& sql) {
                          int count = 0;
                          sql << "select count(*) from " + table, soci::into(count);
                          return count;
                      }));
    CHECK(n == 0);
}

TEST_CASE("cancellation: PostgreSQL statements are cancelled on the server", "[db][postgresql]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    // If the server were not asked to cancel, the 60 s sleep would hold the only
    // connection and the next acquisition would time out after 10 s.
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .acquire_timeout = 10s});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        {
            auto s = co_await factory.async_acquire();
            asio::steady_timer deadline{io, 50ms};
            auto result = co_await (
                asio_soci::as_future(s, [](soci::session& sql) { sql << "select pg_sleep(60)"; }) ||
                deadline.async_wait(asio::use_awaitable));
            CHECK(result.index() == 1);
        }
        auto s = co_await factory.async_acquire();
        int one = co_await asio_soci::as_future(s, [](soci::session& sql) {
            int n = 0;
            sql << "select 1", soci::into(n);
            return n;
        });
        CHECK(one == 1);
    }());
}

TEST_CASE("cancellation: an acquisition cancelled while its connection opens", "[db]") {
    test::database db;
    std::promise<void> opening, unblock;
    auto blocker = unblock.get_future().share();
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .on_connect = [&](soci::session&) {
                       opening.set_value();
                       blocker.wait();
                   }});
    asio::io_context io;
    asio::cancellation_signal signal;
    std::exception_ptr error;
    factory.async_acquire(asio::bind_cancellation_slot(
        signal.slot(),
        asio::bind_executor(io, [&](std::exception_ptr e, asio_soci::session) { error = e; })));
    opening.get_future().wait();  // the connection is being opened on a worker
    signal.emit(asio::cancellation_type::terminal);
    io.run();  // the caller resumes while the connect still runs
    CHECK(is_aborted(error));
    unblock.set_value();
    // The connection opened for nobody goes back to the pool and is reused.
    CHECK(test::run(io, factory.async_acquire()));
    CHECK(factory.stats().connects_total == 1);
}
