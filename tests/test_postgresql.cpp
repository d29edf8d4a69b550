// The zero-hop PostgreSQL API (pg::async_query): values, ordering with as_future,
// transactions, errors, cancellation, shutdown.
#include "support.hpp"

#include <asio_soci/postgresql.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace pg = asio_soci::pg;

namespace {

// The prepared statements the zero-hop path made on the session's connection.
asio::awaitable<long long> prepared_count(asio_soci::session& s) {
    auto r = co_await pg::async_query(
        s, "select count(*) from pg_prepared_statements where name like 'asio_soci_%'");
    co_return r.front().get<long long>(0);
}

}  // namespace

TEST_CASE("pg: parameters and values of every supported type round-trip", "[db][postgresql]") {
    test::database db;
    const auto table = db.table("types");
    db.execute("create table " + table +
               " (id bigint primary key, flag boolean, small smallint, num integer, real4 real,"
               " real8 double precision, label text, data bytea, at timestamptz, amount numeric,"
               " maybe integer)");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    const auto at =
        std::chrono::sys_days{std::chrono::year{2024} / 2 / 29} + 13h + 5min + 7s + 123456us;
    const std::vector<std::byte> data{std::byte{0}, std::byte{0xff}, std::byte{'\n'}};
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        auto inserted = co_await pg::async_query(
            s,
            "insert into " + table +
                " (id, flag, small, num, real4, real8, label, data, at, amount, maybe)"
                " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 12345.678900, $10)",
            std::int64_t{1} << 40, true, std::int16_t{-7}, -123456, 1.5f, 2.25, "héllo 'quoted'",
            data, at, std::optional<int>{});
        CHECK(inserted.affected_rows() == 1);
        CHECK(inserted.empty());

        auto r = co_await pg::async_query(s, "select * from " + table + " where id = $1",
                                          std::int64_t{1} << 40);
        REQUIRE(r.size() == 1);
        CHECK(r.columns() == 11);
        auto row = r.front();
        CHECK(row.get<std::int64_t>("id") == std::int64_t{1} << 40);
        CHECK(row.get<bool>("flag"));
        CHECK(row.get<short>("small") == -7);
        CHECK(row.get<int>("num") == -123456);
        CHECK(row.get<float>("real4") == 1.5f);
        CHECK(row.get<double>("real8") == 2.25);
        CHECK(row.get<std::string>("label") == "héllo 'quoted'");
        CHECK(row.get<std::string_view>("label") == "héllo 'quoted'");
        CHECK(row.get<std::vector<std::byte>>("data") == data);
        CHECK(row.get<std::chrono::system_clock::time_point>("at") == at);
        CHECK(row.get<std::string>("amount") == "12345.678900");
        CHECK(row.get<double>("amount") == Approx(12345.6789));
        CHECK(row.is_null(10));
        CHECK(row.get<std::optional<int>>("maybe") == std::nullopt);
        CHECK(row.get<std::optional<int>>("num") == -123456);
        CHECK(row.get<std::string>("num") == "-123456");
        // What does not convert says so, naming the column.
        CHECK_THROWS_WITH(row.get<int>("maybe"),
                          Catch::Contains("\"maybe\"") && Catch::Contains("NULL"));
        CHECK_THROWS_AS(row.get<int>("label"), pg::conversion_error);
        CHECK_THROWS_AS(row.get<std::int8_t>("num"), pg::conversion_error);  // out of range
        CHECK_THROWS_AS(row.get<int>("nope"), std::out_of_range);
        CHECK_THROWS_AS(row.get<int>(11), std::out_of_range);
        CHECK_THROWS_AS(r.at(1), std::out_of_range);

        // Numeric text of every shape, and rows iterated.
        auto numbers = co_await pg::async_query(
            s,
            "select x::numeric as n from (values ('0'), ('-0.5'), ('10000'), ('0.0001'),"
            " ('123456789.000000001'), ('NaN')) v(x)");
        std::vector<std::string> texts;
        for (auto n : numbers)
            texts.push_back(n.get<std::string>(0));
        CHECK(texts == std::vector<std::string>{"0", "-0.5", "10000", "0.0001",
                                                "123456789.000000001", "NaN"});
        co_await s.async_commit();
    }());
}

TEST_CASE("pg: zero-hop and as_future calls on one session run and complete in submission order",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.table("order");
    db.execute("create table " + table + " (seq serial primary key, name text)");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());
    std::vector<std::string> completed;
    std::vector<std::string> submitted;
    auto done = [&](std::string name) {
        submitted.push_back(name);
        return asio::bind_executor(io, [&completed, name](std::exception_ptr e, auto&&...) {
            CHECK(!e);
            completed.push_back(name);
        });
    };
    const std::string insert = "insert into " + table + " (name) values ($1)";
    // Launched together: a slow as_future call first, so that the others queue behind it;
    // then the two kinds alternate, each handing the connection to the other.
    asio_soci::as_future(
        s,
        [&](soci::session& sql) {
            sql << "select pg_sleep(0.05)";
            sql << "insert into " + table + " (name) values ('a0')";
        },
        done("a0"));
    for (int i = 1; i <= 50; ++i) {
        const auto zero_hop = "z" + std::to_string(i);
        pg::async_query(s, insert, zero_hop, done(zero_hop));
        const auto offloaded = "a" + std::to_string(i);
        asio_soci::as_future(
            s,
            [&, offloaded](soci::session& sql) {
                sql << "insert into " + table + " (name) values (:name)", soci::use(offloaded);
            },
            done(offloaded));
    }
    io.restart();
    io.run();
    CHECK(completed == submitted);
    test::run(io, s.async_commit());
    std::string in_submission_order;
    for (const auto& name : submitted)
        in_submission_order += name + ",";
    in_submission_order.pop_back();
    CHECK(db.scalar("select count(*) from (select string_agg(name, ',' order by seq) as names "
                    "from " +
                    table + ") t where names = '" + in_submission_order + "'") == 1);
}

TEST_CASE("pg: transactions behave as for as_future", "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("tx");
    asio::io_context io;
    SECTION("autobegin: rolled back unless committed") {
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            co_await pg::async_query(s, "insert into " + table + " values (1, 'rolled back')");
            co_await s.async_rollback();
            co_await pg::async_query(s, "insert into " + table + " values (2, 'committed')");
            co_await s.async_commit();
            co_await pg::async_query(s, "insert into " + table + " values (3, 'dropped')");
        }());  // the session goes back with row 3 uncommitted: rolled back
        CHECK(db.scalar("select count(*) from " + table) == 1);
        CHECK(db.scalar("select count(*) from " + table + " where id = 2") == 1);
        CHECK(factory.stats().uncommitted_rollbacks_total == 1);
    }
    SECTION("autocommit: each statement commits on its own") {
        auto factory =
            asio_soci::make_session_factory(db.url(), {.pool_size = 1, .autocommit = true});
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            co_await pg::async_query(s, "insert into " + table + " values (1, 'one')");
            CHECK(db.scalar("select count(*) from " + table) == 1);  // visible to others
        }());
    }
    SECTION("the one-shot form's session is not involved: a request_scope's is") {
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
        test::run(io, [&]() -> asio::awaitable<void> {
            asio_soci::request_scope scope{factory};
            asio_soci::session& s = co_await scope.session();
            co_await pg::async_query(s, "insert into " + table + " values (1, 'scoped')");
            co_await s.async_commit();
        }());
        CHECK(db.scalar("select count(*) from " + table) == 1);
    }
}

TEST_CASE("pg: errors arrive as the library's types, with the statement", "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("errors");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        const std::string insert = "insert into " + table + " values ($1, $2)";
        co_await pg::async_query(s, insert, 1, "x");
        try {
            co_await pg::async_query(s, insert, 2, "x");
            FAIL("a duplicate name was accepted");
        } catch (const asio_soci::unique_violation& e) {
            CHECK(e.sqlstate() == "23505");
            CHECK(e.constraint() == table + "_name_key");
            CHECK_THAT(e.what(), Catch::Contains(insert));
        }
        co_await s.async_rollback();  // the failed transaction
        try {
            co_await pg::async_query(s, "selec 1");
            FAIL("a syntax error was accepted");
        } catch (const soci::soci_error& e) {
            CHECK_THAT(e.what(), Catch::Contains("syntax error") && Catch::Contains("selec 1"));
        }
        co_await s.async_rollback();
        // The connection is still good, and so are its prepared statements.
        auto r = co_await pg::async_query(s, "select $1::int + 1", 41);
        CHECK(r.front().get<int>(0) == 42);
    }());
}

TEST_CASE("pg: a call larger than the socket's buffers is sent as the socket drains",
          "[db][postgresql]") {
    // 16 MiB does not fit a loopback socket's buffers: the rest goes out as the socket
    // becomes writable, while the server already reads.
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        std::vector<std::byte> payload(16 << 20);
        for (std::size_t i = 0; i < payload.size(); ++i)
            payload[i] = static_cast<std::byte>(i % 251);
        for (int round = 0; round < 2; ++round) {
            auto r = co_await pg::async_query(
                s, "select length($1::bytea), get_byte($1::bytea, length($1::bytea) - 1)", payload);
            CHECK(r.front().get<std::int64_t>(0) == static_cast<std::int64_t>(payload.size()));
            CHECK(r.front().get<int>(1) == static_cast<int>((payload.size() - 1) % 251));
        }
        auto small = co_await pg::async_query(s, "select 2");  // the connection is in step
        CHECK(small.front().get<int>(0) == 2);
    }());
}

TEST_CASE("pg: statements are prepared once per connection", "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        const auto before = co_await prepared_count(s);  // prepares the count itself
        for (int i = 0; i < 3; ++i) {
            auto r = co_await pg::async_query(s, "select $1::bigint * 2", i);
            CHECK(r.front().get<int>(0) == 2 * i);
        }
        CHECK(co_await prepared_count(s) == before + 1);
        // Another parameter type is another statement.
        co_await pg::async_query(s, "select $1::bigint * 2", std::int64_t{5});
        CHECK(co_await prepared_count(s) == before + 2);
    }());
}

TEST_CASE("pg: prepared_statements=off runs every statement unnamed (PgBouncer)",
          "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url_with("prepared_statements", "off"),
                                                   {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        for (int i = 0; i < 2; ++i) {
            auto r = co_await pg::async_query(s, "select $1::int", i);
            CHECK(r.front().get<int>(0) == i);
        }
        CHECK(co_await prepared_count(s) == 0);
    }());
}

TEST_CASE("pg: cancellation asks the server to stop, and the connection stays usable",
          "[db][postgresql]") {
    using namespace asio::experimental::awaitable_operators;
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto timeout = [&](auto duration) -> asio::awaitable<void> {
        asio::steady_timer timer{io, duration};
        co_await timer.async_wait(asio::use_awaitable);
    };
    SECTION("a running statement") {
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            const auto start = std::chrono::steady_clock::now();
            // The timer wins: the statement was cancelled, and the call waited for that.
            auto winner = co_await (pg::async_query(s, db.slow_statement()) || timeout(50ms));
            CHECK(winner.index() == 1);
            CHECK(std::chrono::steady_clock::now() - start < 30s);
            co_await s.async_rollback();
            auto r = co_await pg::async_query(s, "select 7");
            CHECK(r.front().get<int>(0) == 7);
        }());
    }
    SECTION("queued behind an as_future call: it never runs") {
        auto table = db.create_table("cancelled");
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            std::atomic<bool> release{false};
            asio_soci::as_future(
                s,
                [&](soci::session&) {
                    while (!release.load())
                        std::this_thread::yield();
                },
                asio::detached);
            // Started now, so it queues behind the call above; cancelled while queued.
            asio::cancellation_signal cancel;
            std::exception_ptr outcome;
            pg::async_query(
                s, "insert into " + table + " values (1, 'x')",
                asio::bind_cancellation_slot(
                    cancel.slot(), asio::bind_executor(io, [&](std::exception_ptr e, pg::result) {
                        outcome = e;
                    })));
            cancel.emit(asio::cancellation_type::partial);
            release = true;
            co_await s.async_commit();  // completes after the cancelled call
            CHECK(test::is_aborted(outcome));
            co_await s.async_commit();
        }());
        CHECK(db.scalar("select count(*) from " + table) == 0);
    }
}

TEST_CASE("pg: a connection killed during a call fails it and is replaced", "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        auto pid = (co_await pg::async_query(s, "select pg_backend_pid()")).front().get<int>(0);
        auto killer = test::terminate_backend_once_sleeping(db, pid);
        CHECK_THROWS_AS(co_await pg::async_query(s, "select pg_sleep(60)"),
                        asio_soci::connection_lost);
        killer.get();
    }());
    // The next lease gets a new connection.
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        auto r = co_await pg::async_query(s, "select 1");
        CHECK(r.front().get<int>(0) == 1);
    }());
}

TEST_CASE("pg: use_future from a thread without an io_context", "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    auto s = factory.async_acquire(asio::use_future).get();
    auto r = pg::async_query(s, "select $1::text || '!'", "hi", asio::use_future).get();
    CHECK(r.front().get<std::string>(0) == "hi!");
    s.async_commit(asio::use_future).get();
}

TEST_CASE("pg: destroying a stopped io_context with a zero-hop call in flight",
          "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    {
        asio_soci::session s = factory.async_acquire(asio::use_future).get();
        auto io = std::make_unique<asio::io_context>();
        bool completed = false;
        pg::async_query(
            s, db.slow_statement(),
            asio::bind_executor(*io, [&](std::exception_ptr, pg::result) { completed = true; }));
        io->stop();  // it was sent as the call started: it runs on the server
        io.reset();  // cancels the statement, finishes on a worker, drops the handler
        CHECK_FALSE(completed);
    }  // the session goes back after the call's rollback
    asio::io_context io;
    auto r = test::run(io, [&]() -> asio::awaitable<int> {
        auto s = co_await factory.async_acquire();
        co_return (co_await pg::async_query(s, "select 3")).front().get<int>(0);
    }());
    CHECK(r == 3);
}

TEST_CASE("pg: a session that is not PostgreSQL's is refused", "[db][sqlite]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());
    CHECK_THROWS_AS(test::run(io, pg::async_query(s, "select 1")), std::invalid_argument);
    asio_soci::session empty;
    CHECK_THROWS_AS(test::run(io, pg::async_query(empty, "select 1")), asio_soci::invalid_session);
}

TEST_CASE("pg: a batch answers every statement, and fails as a whole", "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("batch");
    asio::io_context io;
    const std::string insert = "insert into " + table + " values ($1, $2)";
    auto failing_batch = [&] {
        pg::batch b;
        b.add(insert, 100, "new").add(insert, 101, "n1").add(insert, 102, "never");  // n1 exists
        return b;
    };
    auto check_failure = [](const pg::batch_error& e) {
        CHECK(e.index() == 1);
        CHECK(e.sqlstate() == "23505");
        CHECK_THAT(e.what(), Catch::Contains("statement 2 of 3"));
        CHECK_THROWS_AS(e.rethrow_nested(), asio_soci::unique_violation);
    };
    SECTION("in the session's transaction") {
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            pg::batch b;
            for (int i = 0; i < 20; ++i)
                b.add(insert, i, "n" + std::to_string(i));
            b.add("select count(*), max(id) from " + table);
            auto results = co_await pg::async_execute(s, std::move(b));
            REQUIRE(results.size() == 21);
            CHECK(results[0].affected_rows() == 1);
            CHECK(results[20].front().get<long long>(0) == 20);
            CHECK(results[20].front().get<int>(1) == 19);
            co_await s.async_commit();
            try {
                co_await pg::async_execute(s, failing_batch());
                FAIL("a batch with a duplicate succeeded");
            } catch (const pg::batch_error& e) {
                check_failure(e);
            }
            co_await s.async_rollback();
            CHECK((co_await pg::async_execute(s, pg::batch{})).empty());
        }());
        CHECK(db.scalar("select count(*) from " + table) == 20);
    }
    SECTION("in autocommit mode: one implicit transaction, all or nothing") {
        auto factory =
            asio_soci::make_session_factory(db.url(), {.pool_size = 1, .autocommit = true});
        db.execute("insert into " + table + " values (1, 'n1')");
        test::run(io, [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            try {
                co_await pg::async_execute(s, failing_batch());
                FAIL("a batch with a duplicate succeeded");
            } catch (const pg::batch_error& e) {
                check_failure(e);
            }
            // No rollback needed: nothing is left open.
            auto r = co_await pg::async_query(s, "select count(*) from " + table);
            CHECK(r.front().get<long long>(0) == 1);  // the first insert was undone
        }());
    }
}

// --- pg::async_query(factory, ...): calls without a session, pipelined per io_context ----

namespace {

// Calls `async_query(factory, sql, id)` for every id from one handler, so that they
// queue together (the lane's connection starts its group from a posted step), and
// returns each call's error (null: it succeeded) and first integer once all are done.
struct group_outcome {
    std::vector<std::exception_ptr> errors;
    std::vector<std::optional<long long>> values;
};

group_outcome run_group(asio::io_context& io, const asio_soci::session_factory& factory,
                        const std::vector<std::string>& statements) {
    group_outcome out;
    out.errors.resize(statements.size());
    out.values.resize(statements.size());
    asio::post(io, [&] {
        for (std::size_t i = 0; i < statements.size(); ++i)
            pg::async_query(factory, statements[i],
                            asio::bind_executor(io, [&out, i](std::exception_ptr e, pg::result r) {
                                out.errors[i] = e;
                                if (!e && r.size() == 1 && r.columns() == 1)
                                    out.values[i] = r.front().get<long long>(0);
                            }));
    });
    io.run();
    io.restart();
    return out;
}

}  // namespace

TEST_CASE("pg: factory calls share a connection, each succeeding or failing on its own",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("pooled_calls");
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 4, .pipeline_connections = 1});
    asio::io_context io;
    std::vector<std::string> statements;
    for (int i = 0; i < 6; ++i)
        statements.push_back("insert into " + table + " (id, name) values (" +
                             std::to_string(i % 4) + ", 'call " + std::to_string(i) + "')");
    statements.push_back("select pg_backend_pid()");
    statements.push_back("select 1/0");
    statements.push_back("select pg_backend_pid()");
    auto out = run_group(io, factory, statements);
    for (int i = 0; i < 4; ++i)
        CHECK_FALSE(out.errors[i]);
    // The two repeated ids fail alone: each call is a transaction of its own.
    CHECK_THROWS_AS(std::rethrow_exception(out.errors[4]), asio_soci::unique_violation);
    CHECK_THROWS_AS(std::rethrow_exception(out.errors[5]), asio_soci::unique_violation);
    CHECK_THROWS_WITH(std::rethrow_exception(out.errors[7]), Catch::Contains("division by zero"));
    // One connection served them all.
    REQUIRE(out.values[6]);
    CHECK(out.values[6] == out.values[8]);
    CHECK(db.scalar("select count(*) from " + table) == 4);
    CHECK(db.scalar("select count(*) from " + table + " where name = 'call 0'") == 1);
    CHECK(factory.stats().in_use == 0);

    // Many concurrent requests: at most pipeline_connections connections, all rows in.
    const int failures = test::run_concurrently(io, 200, [&](int i) -> asio::awaitable<void> {
        auto r = co_await pg::async_query(factory,
                                          "insert into " + table + " (id, name) values ($1, $2)",
                                          100 + i, "many " + std::to_string(i));
        CHECK(r.affected_rows() == 1);
    });
    CHECK(failures == 0);
    CHECK(db.scalar("select count(*) from " + table + " where name like 'many %'") == 200);
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("pg: a queued factory call is cancelled unrun, a sent one reports its outcome",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("pooled_cancel");
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 2, .pipeline_connections = 1});
    asio::io_context io;
    // Holds an advisory lock that the first call waits for, from a connection of its own.
    auto holder = db.connect();
    *holder << "select pg_advisory_lock(4242)";
    asio::cancellation_signal cancel_sent, cancel_queued;
    std::optional<std::exception_ptr> sent_error, queued_error;
    long long sent_value = 0;
    pg::async_query(
        factory, "select 7 from (select pg_advisory_xact_lock(4242)) as waited",
        asio::bind_cancellation_slot(
            cancel_sent.slot(), asio::bind_executor(io, [&](std::exception_ptr e, pg::result r) {
                sent_error = e;
                if (!e)
                    sent_value = r.front().get<long long>(0);
            })));
    // Wait until the first call is on the server, waiting for the lock.
    while (db.scalar("select count(*) from pg_locks where locktype = 'advisory' and not granted") ==
           0)
        io.poll();
    pg::async_query(
        factory, "insert into " + table + " (id, name) values (1, 'queued')",
        asio::bind_cancellation_slot(
            cancel_queued.slot(),
            asio::bind_executor(io, [&](std::exception_ptr e, pg::result) { queued_error = e; })));
    cancel_sent.emit(asio::cancellation_type::all);
    cancel_queued.emit(asio::cancellation_type::all);
    while (!queued_error)
        io.run_one();
    CHECK(test::is_aborted(*queued_error));
    CHECK_FALSE(sent_error);  // still waiting for the lock
    *holder << "select pg_advisory_unlock(4242)";
    while (!sent_error)
        io.run_one();
    CHECK_FALSE(*sent_error);
    CHECK(sent_value == 7);
    io.run();
    CHECK(db.scalar("select count(*) from " + table) == 0);
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("pg: destroying a stopped io_context with factory calls sent and queued",
          "[db][postgresql]") {
    test::database db;
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .pipeline_connections = 1});
    {
        auto io = std::make_unique<asio::io_context>();
        // The pool's connection opened: the next acquisition is served at once.
        CHECK(test::run(*io, pg::async_query(factory, "select 1")).front().get<int>(0) == 1);
        int completed = 0;
        auto count = asio::bind_executor(*io, [&](std::exception_ptr, pg::result) { ++completed; });
        pg::async_query(factory, db.slow_statement(), count);
        io->poll();  // the connection's first group goes out with the slow statement
        pg::async_query(factory, "select 2", count);
        io->stop();
        io.reset();  // the group finishes on a worker; the queued call ends unrun
        CHECK(completed == 0);
    }
    while (factory.stats().in_use != 0)
        std::this_thread::yield();
    asio::io_context io;
    CHECK(test::run(io, pg::async_query(factory, "select 3")).front().get<int>(0) == 3);
}

TEST_CASE("pg: destroying an io_context whose factory calls wait for the pool",
          "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    // The pool's one connection is held: the lane's acquisition waits for it.
    auto held = factory.async_acquire(asio::use_future).get();
    {
        auto io = std::make_unique<asio::io_context>();
        int completed = 0;
        auto count = asio::bind_executor(*io, [&](std::exception_ptr, pg::result) { ++completed; });
        pg::async_query(factory, "select 1", count);
        pg::async_query(factory, "select 2", count);
        CHECK(factory.stats().waiting == 1);
        io.reset();  // the calls end unrun, and the acquisition is withdrawn
        CHECK(completed == 0);
    }
    CHECK(factory.stats().waiting == 0);
    held.release();
    asio::io_context io;
    CHECK(test::run(io, pg::async_query(factory, "select 3")).front().get<int>(0) == 3);
    CHECK(factory.stats().in_use == 0);
}

TEST_CASE("pg: a factory that is not PostgreSQL's is refused", "[db][sqlite]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    CHECK_THROWS_AS(test::run(io, pg::async_query(factory, "select 1")), std::invalid_argument);
    asio_soci::session_factory empty;
    CHECK_THROWS_AS(test::run(io, pg::async_query(empty, "select 1")), std::logic_error);
}

TEST_CASE("pg: factory calls wait in the queue for acquire_timeout at most, max_waiting of them",
          "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .acquire_timeout = 300ms, .max_waiting = 1});
    asio::io_context io;
    auto holder = db.connect();
    *holder << "select pg_advisory_lock(4343)";
    std::optional<std::exception_ptr> sent, queued, refused;
    auto record = [&](std::optional<std::exception_ptr>& into) {
        return asio::bind_executor(io, [&into](std::exception_ptr e, pg::result) { into = e; });
    };
    pg::async_query(factory, "select pg_advisory_xact_lock(4343)", record(sent));
    while (db.scalar("select count(*) from pg_locks where locktype = 'advisory' and not granted") ==
           0)
        io.poll();
    pg::async_query(factory, "select 1", record(queued));
    pg::async_query(factory, "select 2", record(refused));  // one waits already
    while (!refused || !queued)
        io.run_one();
    CHECK_THROWS_WITH(std::rethrow_exception(*refused), Catch::Contains("max_waiting 1"));
    CHECK_THROWS_AS(std::rethrow_exception(*refused), asio_soci::pool_timeout);
    CHECK_THROWS_WITH(std::rethrow_exception(*queued), Catch::Contains("waited 300 ms"));
    CHECK_THROWS_AS(std::rethrow_exception(*queued), asio_soci::pool_timeout);
    CHECK_FALSE(sent);
    *holder << "select pg_advisory_unlock(4343)";
    while (!sent)
        io.run_one();
    CHECK_FALSE(*sent);
    CHECK(test::run(io, pg::async_query(factory, "select 3")).front().get<int>(0) == 3);
}
