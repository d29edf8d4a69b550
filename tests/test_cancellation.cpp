#include "support.hpp"

#include <asio/bind_allocator.hpp>
#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Throws what the backend's driver throws for a transient failure.
[[noreturn]] void throw_transient_error(test::database& db) {
    if (db.is_postgresql())
        throw soci::postgresql_soci_error("could not serialize access", "40001");
    throw soci::sqlite3_soci_error("database is locked", 5 /* SQLITE_BUSY */);
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
    CHECK(test::is_aborted(second_error));
    unblock.set_value();
    first.get();
    // The strand has run past the cancelled call by now: a later call proves it.
    asio_soci::as_future(
        s, [](soci::session&) {}, asio::use_future)
        .get();
    CHECK_FALSE(second_ran);
}

// Asio's contract: the completion marks the end of the operation's use of the caller's
// resources. fn captures by reference, so the call must not complete while it runs.
TEST_CASE("cancellation: while fn runs, the database is asked to stop and the call ends after fn",
          "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto table = db.create_table("interrupted");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    std::atomic<bool> started{false};
    bool fn_returned = false;  // written by fn, read by the caller after the completion
    bool statement_stopped = false;

    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        std::vector<std::string> rows;  // the caller's own, written by fn by reference
        auto insert_then_wait = [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'abandoned')";
            rows.push_back("inserted");
            started = true;
            try {
                sql << db.slow_statement();  // a minute, unless interrupted
            } catch (const soci::soci_error&) {
                statement_stopped = true;
            }
            rows.push_back("returned");
            fn_returned = true;
        };
        // wait_until wins and cancels the call (terminal) once fn runs; || then waits for
        // the call's own completion.
        auto result =
            co_await (asio_soci::as_future(s, insert_then_wait) || test::wait_until(started));
        CHECK(result.index() == 1);
        CHECK(fn_returned);        // the completion came after fn had returned
        CHECK(statement_stopped);  // the database was asked to stop
        CHECK(rows.size() == 2);
        // What fn did stays in the open transaction; the session rolls it back on release.
    }());
    // The pool's only connection, once back, holds nothing of it either.
    const int seen = test::run(io, asio_soci::as_future(factory, [&](soci::session& sql) {
                                   int n = -1;
                                   sql << "select count(*) from " + table, soci::into(n);
                                   return n;
                               }));
    CHECK(seen == 0);
}

// Only terminal cancellation can interrupt fn; partial and total ask for an operation
// that leaves no side effects, which a running fn cannot promise.
TEST_CASE("cancellation: while fn runs, partial and total cancellation are not honoured", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());
    std::promise<void> started_promise, unblock;
    auto started = started_promise.get_future();
    auto blocker = unblock.get_future().share();
    asio::cancellation_signal signal;
    std::exception_ptr error;
    int result = 0;
    bool done = false;
    asio_soci::as_future(
        s,
        [&](soci::session&) {
            started_promise.set_value();
            blocker.wait();
            return 7;
        },
        asio::bind_cancellation_slot(signal.slot(),
                                     asio::bind_executor(io, [&](std::exception_ptr e, int r) {
                                         error = e;
                                         result = r;
                                         done = true;
                                     })));
    started.wait();
    signal.emit(asio::cancellation_type::partial);
    signal.emit(asio::cancellation_type::total);
    io.poll();
    CHECK_FALSE(done);  // fn is blocked: nothing can have completed the call
    unblock.set_value();
    io.restart();
    io.run();
    CHECK(done);
    CHECK_FALSE(error);
    CHECK(result == 7);
}

// Asio's rule: memory allocated with the handler's allocator is freed before the
// handler is invoked.
namespace {
struct allocation_log {
    std::atomic<int> live{0};
    bool freed_after_upcall = false;
    bool upcall_done = false;
};
template <class T>
struct logging_allocator {
    using value_type = T;
    allocation_log* log;
    explicit logging_allocator(allocation_log* l) noexcept : log(l) {}
    template <class U>
    logging_allocator(const logging_allocator<U>& other) noexcept : log(other.log) {}
    T* allocate(std::size_t n) {
        ++log->live;
        return std::allocator<T>{}.allocate(n);
    }
    void deallocate(T* p, std::size_t n) {
        log->freed_after_upcall |= log->upcall_done;
        --log->live;
        std::allocator<T>{}.deallocate(p, n);
    }
    template <class U>
    bool operator==(const logging_allocator<U>& other) const noexcept {
        return log == other.log;
    }
};
}  // namespace

TEST_CASE("cancellation: the operation's memory is freed before the handler runs", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());
    for (const bool cancel : {false, true}) {
        INFO("cancelled while fn runs: " << cancel);
        allocation_log log;
        std::promise<void> started_promise, unblock;
        auto started = started_promise.get_future();
        auto blocker = unblock.get_future().share();
        asio::cancellation_signal signal;
        std::exception_ptr error;
        asio_soci::as_future(
            s,
            [&](soci::session&) {
                started_promise.set_value();
                blocker.wait();
            },
            asio::bind_allocator(
                logging_allocator<void>{&log},
                asio::bind_cancellation_slot(signal.slot(),
                                             asio::bind_executor(io, [&](std::exception_ptr e) {
                                                 CHECK(log.live == 0);
                                                 error = e;
                                                 log.upcall_done = true;
                                             }))));
        started.wait();
        if (cancel)
            signal.emit(asio::cancellation_type::terminal);
        unblock.set_value();
        io.restart();
        io.run();
        CHECK(log.upcall_done);
        CHECK(test::is_aborted(error) == cancel);
        CHECK_FALSE(log.freed_after_upcall);
        CHECK(log.live == 0);
    }
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
    std::atomic<bool> inserted{false};
    bool fn_returned = false;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto insert_then_wait = [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'x')";
            inserted = true;
            struct on_return {  // also when the interrupted statement throws
                bool& flag;
                ~on_return() { flag = true; }
            } returning{fn_returned};
            sql << db.slow_statement();
        };
        auto result = co_await (asio_soci::as_future(factory, insert_then_wait) ||
                                test::wait_until(inserted));
        CHECK(result.index() == 1);  // cancelled after the insert, before the commit
        CHECK(fn_returned);
    }());
    CHECK(db.scalar("select count(*) from " + table) == 0);
}

// A unit of work cancelled while it waits to be retried is not run again.
TEST_CASE("cancellation: the one-shot form runs no retry after a cancellation", "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    std::atomic<int> runs{0};
    std::atomic<bool> failed_once{false};
    test::run(io, [&]() -> asio::awaitable<void> {
        auto transient_failure = [&](soci::session&) {
            ++runs;
            failed_once = true;
            // What a retry_policy retries: a PostgreSQL serialization failure or SQLite
            // busy, raised here as the driver would.
            throw_transient_error(db);
        };
        auto result =
            co_await (asio_soci::as_future(
                          factory, transient_failure,
                          asio_soci::retry_policy{
                              .max_attempts = 5, .initial_backoff = 300ms, .max_backoff = 300ms}) ||
                      test::wait_until(failed_once));
        CHECK(result.index() == 1);
    }());
    CHECK(runs == 1);
    CHECK(factory.stats().retries_total <= 1);
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
    bool done = false;
    factory.async_acquire(asio::bind_cancellation_slot(
        signal.slot(), asio::bind_executor(io, [&](std::exception_ptr e, asio_soci::session) {
            error = e;
            done = true;
        })));
    opening.get_future().wait();  // the connection is being opened on a worker
    signal.emit(asio::cancellation_type::terminal);
    io.poll();
    CHECK_FALSE(done);  // not before the connect has ended
    unblock.set_value();
    io.restart();
    io.run();
    CHECK(test::is_aborted(error));
    // The connection opened for nobody goes back to the pool and is reused.
    CHECK(test::run(io, factory.async_acquire()));
    CHECK(factory.stats().connects_total == 1);
}
