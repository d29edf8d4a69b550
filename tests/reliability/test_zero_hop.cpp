// The zero-hop PostgreSQL API (pg::async_query / async_execute) under stress: a storm of
// cancellations, a result of a million rows, the server ending a connection in the
// middle of a pipeline. Each must leave nothing pending: every call completes once, the
// pool is idle afterwards, its connections answer the next call correctly, and no server
// session stays idle in a transaction.
#include "../support.hpp"

#include <asio_soci/postgresql.hpp>

#include <asio/bind_executor.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace pg = asio_soci::pg;

namespace {

// A factory whose connections carry a name of their own, so that the server-side checks
// look at this pool's sessions only (other tests use the shared server meanwhile).
struct named_pool {
    named_pool(test::database& db, asio_soci::pool_options options)
        : application(db.table("zero_hop_pool")),
          factory(asio_soci::make_session_factory(db.url_with("application_name", application),
                                                  options)) {}

    std::string application;
    asio_soci::session_factory factory;
};

// The pool is idle, each of its connections answers a new call with that call's own
// result (nothing left over from an earlier one), and the server has no session of it
// idle in a transaction.
void check_nothing_pending(test::database& db, named_pool& pool, std::size_t pool_size) {
    // Calls abandoned while running may finish on the workers; then the pool is idle.
    while (pool.factory.stats().in_use != 0)
        std::this_thread::yield();
    const auto stats = pool.factory.stats();
    CHECK(stats.waiting == 0);
    CHECK(stats.idle == pool_size);

    asio::io_context io;
    const int failures = test::run_concurrently(
        io, static_cast<int>(pool_size), [&](int i) -> asio::awaitable<void> {
            auto s = co_await pool.factory.async_acquire();
            auto r = co_await pg::async_query(s, "select $1::int + 1000", i);
            CHECK(r.front().get<int>(0) == i + 1000);
            // Held until every connection is taken: each one is checked.
            asio::steady_timer hold{io, 20ms};
            co_await hold.async_wait(asio::use_awaitable);
            co_await s.async_commit();
        });
    CHECK(failures == 0);
    CHECK(db.scalar("select count(*) from pg_stat_activity where application_name = '" +
                    pool.application + "' and state like 'idle in transaction%'") == 0);
}

// The outcome of each call of a cancellation storm, by the id of the row it inserts,
// and the checks that follow: none failed, every call reported committed wrote its row
// and no other call did.
struct storm_outcomes {
    enum class outcome : char { none, committed, aborted, failed };

    storm_outcomes(int coroutines, int max_calls_each)
        : outcomes(static_cast<std::size_t>(coroutines * max_calls_each), outcome::none),
          cancellations(static_cast<std::size_t>(coroutines), 0) {}

    void record(int coroutine, int id, bool cancelled, const std::exception_ptr& error) {
        cancellations[static_cast<std::size_t>(coroutine)] += cancelled;
        auto& o = outcomes[static_cast<std::size_t>(id)];
        o = !error                    ? outcome::committed
            : test::is_aborted(error) ? outcome::aborted
                                      : outcome::failed;
        if (o == outcome::failed) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                UNSCOPED_INFO("call " << id << " failed: " << e.what());
            }
        }
    }
    int cancelled_by(int coroutine) const {
        return cancellations[static_cast<std::size_t>(coroutine)];
    }

    void check(test::database& db, const std::string& table, int expected_cancellations) const {
        int cancelled = 0, committed = 0, aborted = 0, failed = 0;
        for (int n : cancellations)
            cancelled += n;
        for (auto o : outcomes) {
            committed += o == outcome::committed;
            aborted += o == outcome::aborted;
            failed += o == outcome::failed;
        }
        INFO("cancellations " << cancelled << ", committed " << committed << ", aborted " << aborted
                              << ", failed " << failed);
        CHECK(cancelled == expected_cancellations);
        CHECK(failed == 0);
        CHECK(committed > 0);
        CHECK(aborted > 0);

        // Every call reported committed is there; no call reported aborted is.
        auto sql = db.connect();
        std::vector<int> ids(outcomes.size());
        *sql << "select id from " + table, soci::into(ids);
        std::vector<bool> present(outcomes.size(), false);
        for (int id : ids)
            present[static_cast<std::size_t>(id)] = true;
        int lost = 0, half_written = 0;
        for (std::size_t id = 0; id < outcomes.size(); ++id) {
            lost += outcomes[id] == outcome::committed && !present[id];
            half_written += outcomes[id] != outcome::committed && present[id];
        }
        CHECK(static_cast<int>(ids.size()) == committed);
        CHECK(lost == 0);
        CHECK(half_written == 0);
    }

    std::vector<outcome> outcomes;
    std::vector<int> cancellations;
};

}  // namespace

TEST_CASE("zero-hop: 10,000 random cancellations lose, half-write and leave nothing",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("zero_hop_storm");
    constexpr std::size_t pool_size = 4;
    // Autocommit: a batch is one implicit transaction, so "aborted" must mean "nothing
    // written" and success "all written".
    named_pool pool{db, {.pool_size = pool_size, .autocommit = true}};
    asio::io_context io;

    constexpr int coroutines = 100, cancellations_each = 100, max_calls_each = 2000;
    storm_outcomes storm{coroutines, max_calls_each};

    auto caller = [&](int c) -> asio::awaitable<void> {
        std::minstd_rand random{4321u + static_cast<unsigned>(c)};
        asio::steady_timer deadline{io};
        for (int call = 0; call < max_calls_each && storm.cancelled_by(c) < cancellations_each;
             ++call) {
            const int id = c * max_calls_each + call;
            auto s = co_await pool.factory.async_acquire();
            pg::batch statements;
            statements.add("insert into " + table + " (id, name) values ($1, $2)", id,
                           "row" + std::to_string(id));
            // Sometimes a statement after the insert that runs long enough to be cancelled
            // on the server, which then undoes the insert. A cancel request (a thread, a
            // connection to the server, which forks for it) can take longer than the short
            // sleep on a loaded machine, so one call in 20 sleeps long enough for it to land.
            if (const auto draw = random() % 40; draw == 0)
                statements.add("select pg_sleep(0.2)");
            else if (draw % 2)
                statements.add("select pg_sleep(0.001)");
            // From 0 (cancelled as it is sent) to several calls' length (too late).
            deadline.expires_after(std::chrono::microseconds(random() % 3000));
            auto [order, call_error, results, timer_error] =
                co_await asio::experimental::make_parallel_group(
                    pg::async_execute(s, std::move(statements),
                                      asio::bind_executor(io, asio::experimental::deferred)),
                    deadline.async_wait(asio::experimental::deferred))
                    .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
            // The timer first: the call was cancelled.
            storm.record(c, id, order[0] == 1, call_error);
        }
    };
    for (int c = 0; c < coroutines; ++c)
        asio::co_spawn(io, caller(c), asio::detached);
    io.run();

    storm.check(db, table, coroutines * cancellations_each);
    check_nothing_pending(db, pool, pool_size);
}

TEST_CASE("zero-hop: a result of a million rows arrives whole", "[db][postgresql]") {
    test::database db;
    named_pool pool{db, {.pool_size = 1}};
    asio::io_context io;
    constexpr long long rows = 1'000'000;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await pool.factory.async_acquire();
        // Many reads of the socket: every wait after the first one must see the data
        // that arrives while the previous chunk is being parsed.
        auto r = co_await pg::async_query(
            s, "select g, 'row ' || g from generate_series(1, $1::bigint) g", rows);
        REQUIRE(static_cast<long long>(r.size()) == rows);
        long long sum = 0;
        for (auto row : r)
            sum += row.get<long long>(0);
        CHECK(sum == rows * (rows + 1) / 2);
        CHECK(r.at(r.size() - 1).get<std::string>(1) == "row " + std::to_string(rows));
        co_await s.async_commit();
    }());
    check_nothing_pending(db, pool, 1);
}

TEST_CASE("zero-hop: the server ending the connection in the middle of a batch",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("zero_hop_reset");
    named_pool pool{db, {.pool_size = 1}};
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await pool.factory.async_acquire();
        const auto pid =
            (co_await pg::async_query(s, "select pg_backend_pid()")).front().get<int>(0);
        co_await s.async_commit();
        // Ended once the batch's second statement runs.
        auto killer = test::terminate_backend_once_sleeping(db, pid);
        pg::batch statements;
        statements.add("insert into " + table + " (id, name) values (1, 'before')");
        statements.add("select pg_sleep(60)");
        statements.add("insert into " + table + " (id, name) values (2, 'after')");
        statements.add("select 3");
        // The connection's loss, not a statement's failure: the type a retry keys on.
        CHECK_THROWS_AS(co_await pg::async_execute(s, std::move(statements)),
                        asio_soci::connection_lost);
        killer.get();
    }());
    CHECK(db.scalar("select count(*) from " + table) == 0);
    CHECK(pool.factory.stats().discarded_total == 1);
    check_nothing_pending(db, pool, 1);
}

TEST_CASE("zero-hop: the server ending the connection in the middle of a group of factory calls",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("zero_hop_group_reset");
    named_pool pool{db, {.pool_size = 1, .pipeline_connections = 1}};
    asio::io_context io;
    const auto pid =
        test::run(io, pg::async_query(pool.factory, "select pg_backend_pid()")).front().get<int>(0);
    // Ended once the group's second call runs.
    auto killer = test::terminate_backend_once_sleeping(db, pid);
    const std::vector<std::string> statements{
        "insert into " + table + " (id, name) values (1, 'before')", "select pg_sleep(60)",
        "insert into " + table + " (id, name) values (2, 'after')", "select 3"};
    std::vector<std::exception_ptr> errors(statements.size());
    int completed = 0;
    asio::post(io, [&] {  // queued together: one group
        for (std::size_t i = 0; i < statements.size(); ++i)
            pg::async_query(pool.factory, statements[i],
                            asio::bind_executor(io, [&, i](std::exception_ptr e, pg::result) {
                                errors[i] = e;
                                ++completed;
                            }));
    });
    io.restart();
    io.run();
    killer.get();
    CHECK(completed == 4);
    // The call answered before the reset keeps its outcome (committed at its own sync);
    // the rest report the connection's loss, the type a retry keys on.
    CHECK_FALSE(errors[0]);
    for (std::size_t i = 1; i < errors.size(); ++i)
        CHECK_THROWS_AS(std::rethrow_exception(errors[i]), asio_soci::connection_lost);
    CHECK(db.scalar("select count(*) from " + table) == 1);
    CHECK(pool.factory.stats().discarded_total == 1);
    CHECK(test::run(io, pg::async_query(pool.factory, "select 4")).front().get<int>(0) == 4);
    check_nothing_pending(db, pool, 1);
}

TEST_CASE("zero-hop: 10,000 random cancellations of factory calls lose and half-write nothing",
          "[db][postgresql]") {
    test::database db;
    const auto table = db.create_table("zero_hop_pooled_storm");
    constexpr std::size_t pool_size = 4;
    named_pool pool{db, {.pool_size = pool_size, .pipeline_connections = 2}};
    asio::io_context io;

    constexpr int coroutines = 50, cancellations_each = 200, max_calls_each = 4000;
    storm_outcomes storm{coroutines, max_calls_each};

    auto caller = [&](int c) -> asio::awaitable<void> {
        std::minstd_rand random{8765u + static_cast<unsigned>(c)};
        asio::steady_timer deadline{io};
        for (int call = 0; call < max_calls_each && storm.cancelled_by(c) < cancellations_each;
             ++call) {
            const int id = c * max_calls_each + call;
            // Sometimes slow enough to hold the queue behind it.
            const bool slow = random() % 20 == 0;
            // From 0 (cancelled as it is queued) to several calls' length (too late).
            deadline.expires_after(std::chrono::microseconds(random() % 3000));
            auto [order, call_error, result, timer_error] =
                co_await asio::experimental::make_parallel_group(
                    pg::async_query(pool.factory,
                                    "insert into " + table + " (id, name) select $1, $2" +
                                        (slow ? " from pg_sleep(0.002)" : ""),
                                    id, "row" + std::to_string(id),
                                    asio::bind_executor(io, asio::experimental::deferred)),
                    deadline.async_wait(asio::experimental::deferred))
                    .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
            // The timer first: the call was cancelled.
            storm.record(c, id, order[0] == 1, call_error);
        }
    };
    for (int c = 0; c < coroutines; ++c)
        asio::co_spawn(io, caller(c), asio::detached);
    io.run();

    storm.check(db, table, coroutines * cancellations_each);
    check_nothing_pending(db, pool, pool_size);
}
