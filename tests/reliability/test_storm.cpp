#include "../support.hpp"

#include <asio/bind_executor.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("storm: 10,000 calls cancelled at random points lose and half-write nothing", "[db]") {
    test::database db;
    auto table = db.create_table("storm");
    // Named connections: the check at the end looks at this pool's sessions only (other
    // tests run transactions on the shared server meanwhile).
    const auto application = db.table("storm_pool");
    auto factory = asio_soci::make_session_factory(
        db.is_postgresql() ? db.url_with("application_name", application) : db.url(),
        {.pool_size = 4});
    asio::io_context io;

    constexpr int coroutines = 100, calls_each = 100;
    enum class outcome : char { pending, committed, aborted, failed };
    std::vector<outcome> outcomes(coroutines * calls_each, outcome::pending);

    // A connection must never run two calls at once.
    std::mutex running_mutex;
    std::set<soci::session*> running;
    std::atomic<int> overlaps{0};

    auto caller = [&](int first_id, unsigned seed) -> asio::awaitable<void> {
        std::minstd_rand random{seed};
        asio::steady_timer deadline{io};
        for (int id = first_id; id < first_id + calls_each; ++id) {
            const auto spin = std::chrono::microseconds(random() % 300);
            auto insert = [&, id, spin](soci::session& sql) {
                {
                    std::lock_guard lock{running_mutex};
                    overlaps += !running.insert(&sql).second;
                }
                struct leave {  // also when the statement throws (e.g. cancelled)
                    std::mutex& m;
                    std::set<soci::session*>& s;
                    soci::session* key;
                    ~leave() {
                        std::lock_guard lock{m};
                        s.erase(key);
                    }
                } leaving{running_mutex, running, &sql};
                const std::string name = "row" + std::to_string(id);
                sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(id),
                    soci::use(name);
                // Work after the insert: cancellation can land between it and the commit.
                const auto until = std::chrono::steady_clock::now() + spin;
                while (std::chrono::steady_clock::now() < until) {
                }
            };
            // A timeout from 0 (cancelled at once, or while queued for a connection) to
            // several calls' length (cancelled while running, or too late).
            deadline.expires_after(std::chrono::microseconds(random() % 20'000));
            // A parallel group rather than ||: it reports the call's own outcome even when
            // the timer wins (a call whose commit had started completes successfully).
            auto [order, call_error, timer_error] =
                co_await asio::experimental::make_parallel_group(
                    // Bound to the io_context: it completes where the group emits its
                    // cancellation (without an executor it would complete on a worker,
                    // racing with the emission; see docs/reliability.md).
                    asio_soci::as_future(factory, insert,
                                         asio::bind_executor(io, asio::experimental::deferred)),
                    deadline.async_wait(asio::experimental::deferred))
                    .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
            outcomes[id] = !call_error ? outcome::committed : outcome::aborted;
            try {
                if (call_error)
                    std::rethrow_exception(call_error);
            } catch (const asio::system_error& e) {
                if (e.code() != asio::error::operation_aborted)
                    outcomes[id] = outcome::failed;
            } catch (...) {
                outcomes[id] = outcome::failed;
            }
        }
    };
    for (int c = 0; c < coroutines; ++c)
        asio::co_spawn(io, caller(c * calls_each, 1234u + c), asio::detached);
    io.run();

    // Calls abandoned while running finish on the workers; then the pool is idle.
    while (factory.stats().in_use != 0)
        std::this_thread::yield();

    int committed = 0, aborted = 0, failed = 0;
    for (auto o : outcomes) {
        committed += o == outcome::committed;
        aborted += o == outcome::aborted;
        failed += o == outcome::failed;
    }
    INFO("committed " << committed << ", aborted " << aborted << ", failed " << failed);
    CHECK(committed + aborted == coroutines * calls_each);
    CHECK(failed == 0);
    CHECK(committed > 0);
    CHECK(aborted > 0);
    CHECK(overlaps == 0);

    // Every call reported committed is there; no call reported aborted is.
    auto sql = db.connect();
    std::vector<int> ids(coroutines * calls_each);
    *sql << "select id from " + table, soci::into(ids);
    std::vector<bool> present(outcomes.size(), false);
    for (int id : ids)
        present[id] = true;
    int lost = 0, half_written = 0;
    for (std::size_t id = 0; id < outcomes.size(); ++id) {
        lost += outcomes[id] == outcome::committed && !present[id];
        half_written += outcomes[id] == outcome::aborted && present[id];
    }
    CHECK(static_cast<int>(ids.size()) == committed);
    CHECK(lost == 0);
    CHECK(half_written == 0);
    if (db.is_postgresql()) {
        CHECK(db.scalar("select count(*) from pg_stat_activity where application_name = '" +
                        application + "' and state like 'idle in transaction%'") == 0);
    }
}

TEST_CASE("storm: 8 concurrent writers x 1,000 inserts all land", "[db]") {
    test::database db;
    auto table = db.create_table("writers");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 8});
    asio::io_context io;
    constexpr int writers = 8, inserts_each = 1000;
    auto writer = [&](int w) -> asio::awaitable<void> {
        for (int i = 0; i < inserts_each; ++i) {
            const int id = w * inserts_each + i;
            co_await asio_soci::as_future(factory, [&](soci::session& sql) {
                const std::string name = "w" + std::to_string(id);
                sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(id),
                    soci::use(name);
            });
        }
    };
    CHECK(test::run_concurrently(io, writers, writer) == 0);
    CHECK(db.scalar("select count(*) from " + table) == writers * inserts_each);
}
