#include "support.hpp"

#include <asio_soci/postgresql.hpp>

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/strand.hpp>
#include <asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct custom_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace

TEST_CASE("as_future: results, void, move-only values and exception types", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 2});
    auto table = db.create_table("items");
    asio::io_context io;

    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        co_await asio_soci::as_future(s, [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'one')";
        });
        co_await s.async_commit();
        int n = co_await asio_soci::as_future(s, [&](soci::session& sql) {
            int count = 0;
            sql << "select count(*) from " + table, soci::into(count);
            return count;
        });
        CHECK(n == 1);

        auto owned = co_await asio_soci::as_future(s, [&](soci::session& sql) {
            std::string name;
            sql << "select name from " + table + " where id = 1", soci::into(name);
            return std::make_unique<std::string>(name);
        });
        REQUIRE(owned);
        CHECK(*owned == "one");

        // The type of a SOCI error survives, and so does a user's own exception type.
        CHECK_THROWS_AS(co_await asio_soci::as_future(
                            s, [](soci::session& sql) { sql << "select * from no_such_table"; }),
                        soci::soci_error);
        // PostgreSQL refuses statements in a failed transaction until it is rolled back.
        co_await s.async_rollback();
        CHECK_THROWS_AS(co_await asio_soci::as_future(
                            s, [](soci::session&) -> int { throw custom_error("mine"); }),
                        custom_error);
        // The session is still usable afterwards.
        int again = co_await asio_soci::as_future(s, [&](soci::session& sql) {
            int count = 0;
            sql << "select count(*) from " + table, soci::into(count);
            return count;
        });
        CHECK(again == 1);
    }());
}

TEST_CASE("as_future: fn runs on a worker and the coroutine resumes on its own thread", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url());
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        const auto io_thread = std::this_thread::get_id();
        auto s = co_await factory.async_acquire();
        CHECK(std::this_thread::get_id() == io_thread);
        auto worker = co_await asio_soci::as_future(
            s, [](soci::session&) { return std::this_thread::get_id(); });
        CHECK(worker != io_thread);
        CHECK(std::this_thread::get_id() == io_thread);
    }());
}

TEST_CASE("as_future: a coroutine on a strand resumes in that strand", "[db]") {
    // An any_io_executor around a strand, not around the io_context's own executor (which
    // the completion path unwraps): acquisitions and calls must still complete through
    // the strand.
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url());
    asio::io_context io;
    auto strand = asio::make_strand(io);
    constexpr int calls = 20;
    int resumed_in_strand = 0, resumed_in_zero_hop = 0;
    auto done = asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
            auto s = co_await factory.async_acquire();
            resumed_in_strand += strand.running_in_this_thread() ? 1 : 0;
            for (int i = 0; i < calls; ++i) {
                co_await asio_soci::as_future(s, [](soci::session&) {});
                resumed_in_strand += strand.running_in_this_thread() ? 1 : 0;
                if (db.is_postgresql()) {  // the zero-hop path's completion too
                    co_await asio_soci::pg::async_query(s, "select 1");
                    resumed_in_zero_hop += strand.running_in_this_thread() ? 1 : 0;
                }
            }
        },
        asio::use_future);
    std::thread second_io_thread{[&] { io.run(); }};
    io.run();
    second_io_thread.join();
    done.get();
    CHECK(resumed_in_strand == 1 + calls);
    CHECK(resumed_in_zero_hop == (db.is_postgresql() ? calls : 0));
}

TEST_CASE("as_future: coroutines on the factory's own executor", "[db]") {
    // The pattern docs/benchmarks.md measures: database-bound coroutines spawned on the
    // worker threads, each resuming there after its calls (deferred completions).
    test::database db;
    auto table = db.create_table("on_workers");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 4});
    constexpr int coroutines = 8, calls_each = 25;
    std::vector<std::future<int>> done;
    for (int c = 0; c < coroutines; ++c)
        done.push_back(asio::co_spawn(
            factory.get_executor(),
            [&, c]() -> asio::awaitable<int> {
                auto s = co_await factory.async_acquire();
                int seen = 0;
                for (int i = 0; i < calls_each; ++i) {
                    const int id = c * calls_each + i;
                    seen = co_await asio_soci::as_future(s, [&table, id](soci::session& sql) {
                        const std::string name = "row" + std::to_string(id);
                        sql << "insert into " + table + " (id, name) values (:id, :name)",
                            soci::use(id), soci::use(name);
                        int rows = 0;
                        sql << "select count(*) from " + table + " where id = :id", soci::use(id),
                            soci::into(rows);
                        return rows;
                    });
                    if (seen != 1)
                        co_return -id;
                }
                co_await s.async_commit();
                co_return calls_each;
            },
            asio::use_future));
    int total = 0;
    for (auto& d : done)
        total += d.get();  // the factory outlives the coroutines on its threads
    CHECK(total == coroutines * calls_each);
    CHECK(db.scalar("select count(*) from " + table) == coroutines * calls_each);
}

TEST_CASE("as_future: every completion token works", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url());
    auto answer = [](soci::session& sql) {
        int n = 0;
        sql << "select 42", soci::into(n);
        return n;
    };
    asio::io_context io;
    auto s = test::run(io, factory.async_acquire());

    SECTION("use_future, waited on by a thread that runs no io_context") {
        std::future<int> f = asio_soci::as_future(s, answer, asio::use_future);
        CHECK(f.get() == 42);
        std::future<void> v = asio_soci::as_future(
            s, [](soci::session&) {}, asio::use_future);
        CHECK_NOTHROW(v.get());
        auto failing = asio_soci::as_future(
            s, [](soci::session& sql) { sql << "select * from no_such_table"; }, asio::use_future);
        CHECK_THROWS_AS(failing.get(), soci::soci_error);
    }
    SECTION("a callback bound to the io_context runs there, once") {
        int calls = 0;
        std::thread::id ran_on;
        asio_soci::as_future(s, answer, asio::bind_executor(io, [&](std::exception_ptr e, int n) {
                                 ++calls;
                                 ran_on = std::this_thread::get_id();
                                 CHECK_FALSE(e);
                                 CHECK(n == 42);
                             }));
        io.restart();
        io.run();
        CHECK(calls == 1);
        CHECK(ran_on == std::this_thread::get_id());
    }
    SECTION("a plain callback (no associated executor) runs once, on a worker thread") {
        std::promise<std::thread::id> ran_on;
        asio_soci::as_future(s, answer, [&](std::exception_ptr e, int n) {
            CHECK_FALSE(e);
            CHECK(n == 42);
            ran_on.set_value(std::this_thread::get_id());
        });
        CHECK(ran_on.get_future().get() != std::this_thread::get_id());
    }
    SECTION("deferred: nothing runs until the deferred operation is started") {
        bool ran = false;
        auto op = asio_soci::as_future(
            s,
            [&](soci::session&) {
                ran = true;
                return 7;
            },
            asio::experimental::deferred);
        CHECK_FALSE(ran);
        int n = test::run(io, std::move(op)(asio::use_awaitable));
        CHECK(ran);
        CHECK(n == 7);
    }

    SECTION("deferred: the session is read at launch, not when the operation is made") {
        bool ran = false;
        auto op = asio_soci::as_future(
            s, [&](soci::session&) { ran = true; }, asio::experimental::deferred);
        s.release();  // its connection may go to someone else before the launch
        auto next_owner = test::run(io, factory.async_acquire());
        CHECK_THROWS_AS(test::run(io, std::move(op)(asio::use_awaitable)),
                        asio_soci::invalid_session);
        CHECK_FALSE(ran);
    }
}

TEST_CASE("as_future(factory): commits on success, rolls back on exception", "[db]") {
    test::database db;
    auto table = db.create_table("oneshot");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 2});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        co_await asio_soci::as_future(factory, [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'kept')";
        });
        CHECK_THROWS_AS(co_await asio_soci::as_future(factory,
                                                      [&](soci::session& sql) {
                                                          sql << "insert into " + table +
                                                                     " (id, name) values (2, "
                                                                     "'undone')";
                                                          throw custom_error("changed my mind");
                                                      }),
                        custom_error);
        int n = co_await asio_soci::as_future(factory, [&](soci::session& sql) {
            int count = 0;
            sql << "select count(*) from " + table, soci::into(count);
            return count;
        });
        CHECK(n == 1);
    }());
    CHECK(db.scalar("select count(*) from " + table + " where id = 2") == 0);
    auto stats = factory.stats();
    CHECK(stats.in_use == 0);
    CHECK(stats.call_duration.count == 3);
}

TEST_CASE("as_future: an empty session is refused") {
    asio::io_context io;
    asio_soci::session empty;
    CHECK_FALSE(empty);
    // Delivered to the handler, as Asio operations do, not thrown by the call.
    auto future = asio_soci::as_future(
        empty, [](soci::session&) { return 1; }, asio::use_future);
    CHECK_THROWS_AS(future.get(), asio_soci::invalid_session);
    CHECK_THROWS_AS(test::run(io,
                              [&]() -> asio::awaitable<void> {
                                  co_await asio_soci::as_future(empty, [](soci::session&) {});
                              }()),
                    asio_soci::invalid_session);
}

TEST_CASE(
    "as_future: an empty factory or a policy without attempts is refused through the "
    "handler") {
    asio::io_context io;
    asio_soci::session_factory empty;
    auto acquired = empty.async_acquire(asio::use_future);
    CHECK_THROWS_AS(acquired.get(), std::logic_error);
    auto one_shot = asio_soci::as_future(
        empty, [](soci::session&) { return 1; }, asio::use_future);
    CHECK_THROWS_AS(one_shot.get(), std::logic_error);

    auto factory = asio_soci::make_session_factory("sqlite://");
    bool ran = false;
    auto no_attempts = asio_soci::as_future(
        factory, [&](soci::session&) { ran = true; }, asio_soci::retry_policy{.max_attempts = 0},
        asio::use_future);
    CHECK_THROWS_AS(no_attempts.get(), std::invalid_argument);
    CHECK_FALSE(ran);
    CHECK_THROWS_AS(
        test::run(io, [&]() -> asio::awaitable<void> { co_await empty.async_acquire(); }()),
        std::logic_error);
}

// GCC 12 (Debian 12's compiler; PRs 99576, 100611, 101367, 101976, fixed in GCC 13)
// destroys the captures of a closure (or the members of an aggregate) built as a
// temporary inside a co_await expression twice. These are the forms the README shows;
// the ASan build of this test proves them safe on that compiler.
TEST_CASE("as_future: the forms the README shows are safe on GCC 12", "[db]") {
    test::database db;
    const auto table = db.create_table("forms");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 2});
    asio::io_context io;
    const std::string insert = "insert into " + table + " (id, name) values (:id, :name)";
    auto names = test::run(io, [&]() -> asio::awaitable<std::vector<std::string>> {
        asio_soci::session s = co_await factory.async_acquire();
        std::string name = "a name long enough to live on the heap, not in the string";
        // Values as arguments after the function: the function needs no captures.
        co_await asio_soci::as_future(
            s,
            [](soci::session& sql, const std::string& statement, std::string value) {
                const int id = 1;
                sql << statement, soci::use(id, "id"), soci::use(value, "name");
            },
            insert, name + " 1");
        // Capture by reference: the call ends before the coroutine goes on.
        co_await asio_soci::as_future(s, [&](soci::session& sql) {
            const int id = 2;
            sql << insert, soci::use(id, "id"), soci::use(name, "name");
        });
        // A named lambda with value captures.
        auto third = [insert, name](soci::session& sql) {
            // Bound values must outlive the statement, which runs at the end of the full
            // expression: no temporaries in soci::use().
            const int id = 3;
            const std::string value = name + " 3";
            sql << insert, soci::use(id, "id"), soci::use(value, "name");
        };
        co_await asio_soci::as_future(s, third);
        co_await s.async_commit();
        // The one-shot form, with a policy, arguments and an explicit token.
        auto outcome = co_await asio_soci::as_future(
            factory,
            [](soci::session& sql, std::string table_name, int id, std::string value) {
                sql << "insert into " + table_name + " (id, name) values (:id, :name)",
                    soci::use(id), soci::use(value);
                int n = 0;
                sql << "select count(*) from " + table_name, soci::into(n);
                return n;
            },
            asio_soci::retry_policy{.max_attempts = 2}, table, 4, name + " 4",
            asio::experimental::as_tuple(asio::use_awaitable));
        CHECK_FALSE(std::get<0>(outcome));
        CHECK(std::get<1>(outcome) == 4);
        co_return co_await asio_soci::as_future(s, [&](soci::session& sql) {
            std::vector<std::string> all(10);
            sql << "select name from " + table + " order by id", soci::into(all);
            return all;
        });
    }());
    REQUIRE(names.size() == 4);
    CHECK(names[0] == "a name long enough to live on the heap, not in the string 1");
    CHECK(names[3] == "a name long enough to live on the heap, not in the string 4");
    // Arguments with use_future, from a thread that runs no io_context.
    auto counted = asio_soci::as_future(
        factory,
        [](soci::session& sql, const std::string& table_name) {
            int n = 0;
            sql << "select count(*) from " + table_name, soci::into(n);
            return n;
        },
        table, asio::use_future);
    CHECK(counted.get() == 4);
}
