// The scenarios of the core review (shared/repro/core-review), as tests: shutdown with a
// call in flight, the one-shot form and a swallowed error, a cancelled commit, one failed
// connect among queued waiters, concurrent request_scope::session() calls, the last
// factory reference dropped on an io thread, and a cancel request that gets no answer.
#include "../support.hpp"

#include <asio_soci/migrations.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <soci/soci.h>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// io.stop() with a call in flight, then the io_context destroyed: the call is cancelled,
// its function returns, and its handler is destroyed with the io_context; nothing is
// posted to the destroyed io_context (ASan would report it).
TEST_CASE("core review: destroying a stopped io_context with a call in flight", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    std::atomic<bool> started{false};
    bool fn_returned = false;
    bool resumed = false;
    {
        asio::io_context io;
        asio::co_spawn(
            io,
            [&, factory]() -> asio::awaitable<void> {
                auto s = co_await factory.async_acquire();
                auto slow = [&](soci::session& sql) {
                    started = true;
                    try {
                        sql << db.slow_statement();
                    } catch (const soci::soci_error&) {
                    }
                    fn_returned = true;
                };
                co_await asio_soci::as_future(s, slow);
                resumed = true;
            },
            asio::detached);
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await test::wait_until(started);
                io.stop();
            },
            asio::detached);
        io.run();
    }  // ~io_context: cancels the call and waits for its function
    CHECK(fn_returned);
    CHECK_FALSE(resumed);
    // The connection came back, rolled back.
    asio::io_context io;
    CHECK(test::run(io, factory.async_acquire()));
}

TEST_CASE("core review: destroying a stopped io_context with a migration waiting for a connection",
          "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    const asio_soci::migration_set migrations{std::vector<asio_soci::migration>{
        {"0001", "create_migrated", "CREATE TABLE " + db.table("migrated") + " (id integer)", {}}}};
    const asio_soci::migration_options options{.version_table = db.table("versions")};
    auto held = factory.async_acquire(asio::use_future).get();  // the migration must wait
    bool resumed = false;
    {
        asio::io_context io;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                asio_soci::migrator m{factory, migrations, options};
                co_await m.async_upgrade();
                resumed = true;
            },
            asio::detached);
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                while (factory.stats().waiting == 0)
                    co_await asio::post(io, asio::use_awaitable);
                io.stop();
            },
            asio::detached);
        io.run();
    }  // ~io_context: the migration, part of this context, ends with it
    held.release();
    CHECK_FALSE(resumed);
    // Nothing ran, and nothing is left waiting for the connection.
    CHECK(asio_soci::migrator(factory, migrations, options).current() == std::nullopt);
    CHECK(factory.stats().waiting == 0);
}

// The message of the Error that `call` throws; empty when it throws none.
template <class Error, class Call>
std::string message_of(Call call) {
    try {
        call();
    } catch (const Error& e) {
        return e.what();
    }
    return {};
}

// PostgreSQL answers COMMIT of a transaction in which a statement failed with a rollback.
TEST_CASE("core review: the one-shot form fails when fn swallowed a statement's error",
          "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("swallowed");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto insert_twice = [table](soci::session& sql) {
        sql << "insert into " + table + " (id, name) values (1, 'x')";
        try {
            sql << "insert into " + table + " (id, name) values (1, 'x')";
        } catch (const soci::soci_error&) {  // "insert or ignore", the SQLite way
        }
        return 42;
    };
    // The refusal names the statement error that aborted the transaction.
    CHECK_THAT(message_of<asio_soci::transaction_failed>(
                   [&] { test::run(io, asio_soci::as_future(factory, insert_twice)); }),
               Catch::Contains("duplicate key value"));
    CHECK(db.scalar("select count(*) from " + table) == 0);

    // A rollback to a savepoint recovers the transaction from a caught error: the refusal
    // names the error that failed the transaction in the end.
    auto recover_then_fail = [table](soci::session& sql) {
        sql << "insert into " + table + " (id, name) values (1, 'x')";
        sql << "savepoint before_duplicate";
        try {
            sql << "insert into " + table + " (id, name) values (1, 'x')";
        } catch (const soci::soci_error&) {
            sql << "rollback to savepoint before_duplicate";
        }
        try {
            sql << "select 1 / 0";
        } catch (const soci::soci_error&) {
        }
    };
    CHECK_THAT(message_of<asio_soci::transaction_failed>(
                   [&] { test::run(io, asio_soci::as_future(factory, recover_then_fail)); }),
               Catch::Contains("division by zero") && !Catch::Contains("duplicate key"));
    CHECK(db.scalar("select count(*) from " + table) == 0);
}

// The serialization failure is caught inside fn, and a later statement is answered
// "current transaction is aborted" (caught too): the commit reports the serialization
// failure, so that retry_policy reruns the unit of work.
TEST_CASE("core review: retry_policy reruns a unit whose fn caught a serialization failure",
          "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("swallowed_conflict");
    db.execute("insert into " + table + " (id, name) values (1, 'initial')");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    int attempts = 0;
    std::string caught;
    auto rename_after_a_concurrent_update = [&](soci::session& sql) {
        ++attempts;
        sql << "set transaction isolation level repeatable read";
        std::string seen;
        sql << "select name from " + table + " where id = 1", soci::into(seen);  // the snapshot
        if (attempts == 1)
            db.execute("update " + table + " set name = 'concurrent' where id = 1");
        try {
            sql << "update " + table + " set name = 'mine' where id = 1";
        } catch (const soci::soci_error& e) {
            caught = e.what();
        }
        try {
            sql << "select 1";
        } catch (const soci::soci_error&) {
        }
        return seen;
    };
    using namespace std::chrono_literals;
    const auto seen = test::run(
        io,
        asio_soci::as_future(factory, rename_after_a_concurrent_update,
                             asio_soci::retry_policy{.max_attempts = 3, .initial_backoff = 1ms}));
    CHECK(caught.find("could not serialize") != std::string::npos);
    CHECK(attempts == 2);
    CHECK(seen == "concurrent");
    CHECK(factory.stats().retries_total == 1);
    CHECK(db.scalar("select count(*) from " + table + " where name = 'mine'") == 1);

    // Without a retry the caller gets the serialization failure, and nothing is committed.
    attempts = 0;
    CHECK_THAT(message_of<asio_soci::serialization_failure>([&] {
                   test::run(io, asio_soci::as_future(factory, rename_after_a_concurrent_update,
                                                      asio_soci::retry_policy{.max_attempts = 1}));
               }),
               Catch::Contains("could not serialize") && Catch::Contains("nothing was committed"));
    CHECK(attempts == 1);
    CHECK(db.scalar("select count(*) from " + table + " where name = 'concurrent'") == 1);
}

// A COMMIT that has started runs to its real outcome: a cancelled async_commit() either
// reports operation_aborted and committed nothing, or reports the commit's outcome.
TEST_CASE("core review: a cancelled async_commit reports what really happened", "[db]") {
    test::database db;
    auto table = db.create_table("commit_cancel");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());
    test::run(io, asio_soci::as_future(s, [&](soci::session& sql) {
                  sql << "insert into " + table + " (id, name) values (1, 'x')";
              }));
    // Hold the session's queue, so that the commit is cancelled while it waits to start.
    std::promise<void> unblock;
    auto blocker = unblock.get_future().share();
    auto holding = asio_soci::as_future(
        s, [&](soci::session&) { blocker.wait(); }, asio::use_future);
    asio::cancellation_signal signal;
    std::optional<std::exception_ptr> outcome;
    s.async_commit(asio::bind_cancellation_slot(
        signal.slot(), asio::bind_executor(io, [&](std::exception_ptr e) { outcome = e; })));
    signal.emit(asio::cancellation_type::terminal);
    io.restart();
    io.run();
    REQUIRE(outcome);
    CHECK(test::is_aborted(*outcome));  // before it started: aborted, at once
    unblock.set_value();
    holding.get();
    s.release();  // rolls back
    CHECK(db.scalar("select count(*) from " + table) == 0);

    // Cancelled while the COMMIT runs: ignored, the real outcome arrives.
    s = test::run(io, factory.async_acquire());
    test::run(io, asio_soci::as_future(s, [&](soci::session& sql) {
                  sql << "insert into " + table + " (id, name) values (2, 'y')";
              }));
    outcome.reset();
    s.async_commit(asio::bind_cancellation_slot(
        signal.slot(), asio::bind_executor(io, [&](std::exception_ptr e) { outcome = e; })));
    // Emitted from the io thread once the commit is queued or running: whichever, the
    // outcome must match the database.
    asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
    io.restart();
    io.run();
    REQUIRE(outcome);
    const long long rows = db.scalar("select count(*) from " + table + " where id = 2");
    CHECK((test::is_aborted(*outcome) ? rows == 0 : (!*outcome && rows == 1)));
}

// Two branches of one request ask for the scope's session at once: the second waits for
// the first one's acquisition rather than take a second connection (a pool of one would
// time out).
TEST_CASE("core review: concurrent request_scope::session() calls share one acquisition", "[db]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .acquire_timeout = 30s});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        asio_soci::request_scope scope{factory};
        asio_soci::session* got[2] = {nullptr, nullptr};
        auto branch = [&](int i) -> asio::awaitable<void> {
            asio_soci::session& s = co_await scope.session();
            got[i] = &s;
        };
        co_await (branch(0) && branch(1));
        CHECK(got[0] != nullptr);
        CHECK(got[0] == got[1]);
        CHECK(scope.session_count() == 1);
    }());
    CHECK(factory.stats().timeouts_total == 0);
    CHECK(factory.stats().acquired_total == 1);
}

// The last factory reference dropped on an io thread while the pool still has work: the
// io thread goes on at once; the pool closes on a thread of its own.
TEST_CASE("core review: dropping the last factory reference never blocks an io thread", "[db]") {
    test::database db;
    std::promise<void> unblock;
    auto blocker = unblock.get_future().share();
    std::atomic<bool> fn_finished{false};
    bool dropped_while_fn_ran = false;
    {
        asio::io_context io;
        std::optional<asio_soci::session_factory> factory =
            asio_soci::make_session_factory(db.url(), {.pool_size = 1});
        auto s = test::run(io, factory->async_acquire());
        auto running = asio_soci::as_future(
            s,
            [&](soci::session&) {
                blocker.wait();
                fn_finished = true;
            },
            asio::use_future);
        asio::post(io, [&] {
            s.release();      // a rollback queues behind fn
            factory.reset();  // the last reference, on the io thread
            dropped_while_fn_ran = !fn_finished;
        });
        io.restart();
        io.run();
        unblock.set_value();
        running.get();
    }
    CHECK(dropped_while_fn_ran);  // fn could not have finished: it waited for unblock
}

// One failed connect (the role's connection limit) while a connection is in use: only
// the acquisition that tried fails; the queued ones get the connection that comes free.
TEST_CASE("core review: one failed connect does not fail the queued acquisitions",
          "[db][postgresql]") {
    test::database db;
    const std::string role = db.table("limited");
    db.execute("create role " + role + " login password 'pw' connection limit 1");
    struct drop_role {
        test::database& db;
        std::string role;
        ~drop_role() { db.execute("drop role if exists " + role); }
    } dropping{db, role};
    auto url = asio_soci::database_url::parse(db.url());
    const std::string limited_url = "postgresql://" + role + ":pw@" + url.host() + ":" +
                                    std::to_string(*url.port()) + "/" + url.database();
    auto factory =
        asio_soci::make_session_factory(limited_url, {.pool_size = 2, .acquire_timeout = 30s});
    asio::io_context io;
    int failed = 0, acquired = 0;
    // Declared here, not in the coroutine below: the spawned coroutines use its captures
    // after that coroutine has ended.
    auto request = [&]() -> asio::awaitable<void> {
        try {
            auto s = co_await factory.async_acquire();
            ++acquired;
        } catch (const asio_soci::connection_error&) {
            ++failed;
        }
    };
    test::run(io, [&]() -> asio::awaitable<void> {
        auto holder = co_await factory.async_acquire();  // the role's only connection
        // The first tries to connect and fails; the others queue behind it.
        for (int i = 0; i < 4; ++i)
            asio::co_spawn(io, request(), asio::detached);
        while (failed == 0)
            co_await asio::post(io, asio::use_awaitable);
        holder.release();
    }());
    io.restart();
    io.run();
    CHECK(failed == 1);
    CHECK(acquired == 3);
}

namespace {

// A TCP proxy in front of PostgreSQL, on a thread of its own: it forwards connections,
// but holds cancel requests open without an answer (a server that accepts a cancel
// request's connection and never responds).
class cancel_blackhole {
public:
    explicit cancel_blackhole(asio::ip::tcp::endpoint server) : server_(server) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~cancel_blackhole() {
        io_.stop();
        thread_.join();
    }
    cancel_blackhole(const cancel_blackhole&) = delete;
    cancel_blackhole& operator=(const cancel_blackhole&) = delete;

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    int cancel_requests_held() const { return held_count_; }

private:
    using socket = asio::ip::tcp::socket;

    void accept() {
        acceptor_.async_accept([this](std::error_code ec, socket client) {
            if (ec)
                return;
            asio::co_spawn(io_, serve(std::make_shared<socket>(std::move(client))), asio::detached);
            accept();
        });
    }

    asio::awaitable<void> serve(std::shared_ptr<socket> client) {
        try {
            // Every startup packet begins with its length and a code; a cancel request's
            // code is 80877102.
            std::array<unsigned char, 8> head{};
            co_await asio::async_read(*client, asio::buffer(head), asio::use_awaitable);
            const std::uint32_t code = std::uint32_t{head[4]} << 24 | std::uint32_t{head[5]} << 16 |
                                       std::uint32_t{head[6]} << 8 | head[7];
            if (code == 80877102) {
                held_.push_back(client);
                ++held_count_;
                co_return;
            }
            auto upstream = std::make_shared<socket>(io_);
            co_await upstream->async_connect(server_, asio::use_awaitable);
            co_await asio::async_write(*upstream, asio::buffer(head), asio::use_awaitable);
            asio::co_spawn(io_, pipe(client, upstream), asio::detached);
            asio::co_spawn(io_, pipe(upstream, client), asio::detached);
        } catch (const std::exception&) {
        }
    }

    static asio::awaitable<void> pipe(std::shared_ptr<socket> from, std::shared_ptr<socket> to) {
        std::array<char, 65536> buffer;
        try {
            for (;;) {
                auto n = co_await from->async_read_some(asio::buffer(buffer), asio::use_awaitable);
                co_await asio::async_write(*to, asio::buffer(buffer, n), asio::use_awaitable);
            }
        } catch (const std::exception&) {
        }
        std::error_code ignored;
        to->shutdown(socket::shutdown_send, ignored);
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
    asio::ip::tcp::endpoint server_;
    std::vector<std::shared_ptr<socket>> held_;  // only touched by the proxy's thread
    std::atomic<int> held_count_{0};
    std::thread thread_;
};

}  // namespace

// The cancel request runs on a thread of its own, so acquire timeouts keep firing; the
// call ends when its function returns, and the connection, which may still receive the
// cancel later, is closed and replaced rather than reused.
TEST_CASE("core review: a cancel request that gets no answer freezes nothing", "[db][postgresql]") {
    test::database db;
    const auto server = asio_soci::database_url::parse(db.url());
    cancel_blackhole proxy{{asio::ip::make_address("127.0.0.1"), server.port().value_or(5432)}};
    const auto proxied = "postgresql://" + server.username() +
                         "@127.0.0.1:" + std::to_string(proxy.port()) + "/" + server.database();
    auto factory =
        asio_soci::make_session_factory(proxied, {.pool_size = 1, .acquire_timeout = 300ms});
    asio::io_context io;
    std::atomic<bool> running{false};
    std::atomic<bool> call_ended{false};
    bool timed_out_while_call_ran = false;
    // A second request, while the cancelled call still holds the only connection.
    auto second_request = [&]() -> asio::awaitable<void> {
        co_await test::wait_until(running);
        try {
            co_await factory.async_acquire();
        } catch (const asio_soci::pool_timeout&) {
            timed_out_while_call_ran = !call_ended;
        }
    };
    auto sleep_a_second = [&](soci::session& sql) {
        running = true;
        sql << "select pg_sleep(1)";
    };
    bool cancelled = false;
    test::run(io, [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto s = co_await factory.async_acquire();
        asio::co_spawn(io, second_request(), asio::detached);
        // `||` ends when both have: the call, cancelled, once its function has returned.
        auto winner =
            co_await (asio_soci::as_future(s, sleep_a_second) || test::wait_until(running));
        cancelled = winner.index() == 1;
        call_ended = true;
    }());
    CHECK(cancelled);
    CHECK(proxy.cancel_requests_held() == 1);
    CHECK(timed_out_while_call_ran);
    CHECK(factory.stats().discarded_total == 1);
    // A new connection serves the next request.
    auto value = test::run(io, asio_soci::as_future(factory, [](soci::session& sql) {
                               int one = 0;
                               sql << "select 1", soci::into(one);
                               return one;
                           }));
    CHECK(value == 1);
    CHECK(factory.stats().connects_total == 2);
}
