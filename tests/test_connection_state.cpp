// connection_state<T>(): per-connection objects such as prepared statements.
#include "support.hpp"

#include <asio_soci/connection_state.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

// A prepared select bound to its own members, counting how many exist.
struct name_by_id {
    static inline int made = 0;
    static inline int destroyed = 0;

    explicit name_by_id(soci::session& sql)
        : select{(sql.prepare << "select name from items where id = :id", soci::use(id),
                  soci::into(name))} {
        ++made;
    }
    ~name_by_id() { ++destroyed; }

    int id = 0;
    std::string name;
    soci::statement select;
};

// A fresh database with items 1 "one" and 2 "two" (the database is the test's own, so
// the table name is fixed: name_by_id's constructor knows it).
void create_items(test::database& db) {
    db.execute("create table items (id integer primary key, name varchar(100))");
    db.execute("insert into items (id, name) values (1, 'one')");
    db.execute("insert into items (id, name) values (2, 'two')");
}

// Runs the cached select for `id` through as_future on `factory`'s one connection.
asio::awaitable<std::string> lookup(asio_soci::session& s, int id) {
    co_return co_await asio_soci::as_future(s, [id](soci::session& sql) {
        auto& query = asio_soci::connection_state<name_by_id>(sql);
        query.id = id;
        if (!query.select.execute(true))
            return std::string{"(none)"};
        query.select.fetch();  // to the end, as connection_state() asks
        return query.name;
    });
}

// Fails to construct the first time.
struct refuses_once {
    static inline int attempts = 0;
    explicit refuses_once(soci::session&) {
        if (++attempts == 1)
            throw std::runtime_error("not this time");
    }
};

struct counts_reset {
    counts_reset() { name_by_id::made = name_by_id::destroyed = refuses_once::attempts = 0; }
};

}  // namespace

TEST_CASE("connection_state: made once per connection, reused by every later call", "[db]") {
    counts_reset reset;
    test::database db;
    create_items(db);
    asio::io_context io;
    {
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
        test::run(io, [&]() -> asio::awaitable<void> {
            std::string name;
            {
                auto s = co_await factory.async_acquire();
                name = co_await lookup(s, 1);
                CHECK(name == "one");
                name = co_await lookup(s, 2);
                CHECK(name == "two");
            }
            // Another lease of the same connection, another request: the same statement.
            auto s = co_await factory.async_acquire();
            name = co_await lookup(s, 3);
            CHECK(name == "(none)");
            name = co_await lookup(s, 1);
            CHECK(name == "one");
        }());
        CHECK(name_by_id::made == 1);
        CHECK(name_by_id::destroyed == 0);
    }
    // The pool is gone, and the statement went before its connection.
    CHECK(name_by_id::destroyed == 1);
}

TEST_CASE("connection_state: a prepared statement outlives a rolled-back transaction", "[db]") {
    counts_reset reset;
    test::database db;
    create_items(db);
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        std::string name;
        {
            // Prepared inside a transaction that fails and is rolled back.
            auto s = co_await factory.async_acquire();
            co_await s.async_begin();
            name = co_await lookup(s, 1);
            CHECK(name == "one");
            bool failed = false;
            try {
                co_await asio_soci::as_future(
                    s, [](soci::session& sql) { sql << "select * from no_such_table"; });
            } catch (const soci::soci_error&) {
                failed = true;
            }
            CHECK(failed);
        }  // released: rolled back
        auto s = co_await factory.async_acquire();
        name = co_await lookup(s, 1);
        CHECK(name == "one");
    }());
    CHECK(name_by_id::made == 1);
}

TEST_CASE("connection_state: a reopened connection gets a new object", "[db]") {
    counts_reset reset;
    test::database db;
    create_items(db);
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .max_lifetime = std::chrono::milliseconds{1}});
    asio::io_context io;
    auto lookup_once = [&]() -> asio::awaitable<std::string> {
        auto s = co_await factory.async_acquire();
        co_return co_await lookup(s, 1);
    };
    CHECK(test::run(io, lookup_once()) == "one");
    // Waits for the event "the connection is older than max_lifetime".
    const auto first_call_done = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - first_call_done < 2ms) {
    }
    CHECK(test::run(io, lookup_once()) == "one");
    CHECK(factory.stats().connects_total == 2);
    CHECK(name_by_id::made == 2);
    CHECK(name_by_id::destroyed == 1);  // the first, before its connection closed
}

TEST_CASE("connection_state: the one-shot form and a constructor that throws", "[db]") {
    counts_reset reset;
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto use = [](soci::session& sql) { return &asio_soci::connection_state<refuses_once>(sql); };
    CHECK_THROWS_WITH(test::run(io, asio_soci::as_future(factory, use)), "not this time");
    auto* first = test::run(io, asio_soci::as_future(factory, use));
    CHECK(test::run(io, asio_soci::as_future(factory, use)) == first);
    CHECK(refuses_once::attempts == 2);
}

TEST_CASE("connection_state: outside a call of the pool it throws std::logic_error", "[db]") {
    test::database db;
    auto sql = db.connect();
    CHECK_THROWS_AS(asio_soci::connection_state<name_by_id>(*sql), std::logic_error);
}

TEST_CASE("connection_state: a kept select read to its end lets its connection write later",
          "[db]") {
    counts_reset reset;
    test::database db;
    create_items(db);
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto lookup_once = [&]() -> asio::awaitable<std::string> {
        auto s = co_await factory.async_acquire();
        co_return co_await lookup(s, 1);
    };
    CHECK(test::run(io, lookup_once()) == "one");
    // Another connection commits meanwhile; on SQLite a read transaction still open on the
    // pooled connection would now make its write fail at once ("database is locked").
    db.execute("insert into items (id, name) values (3, 'three')");
    test::run(io, asio_soci::as_future(factory, [](soci::session& sql) {
                  sql << "insert into items (id, name) values (4, 'four')";
              }));
    CHECK(db.scalar("select count(*) from items") == 4);
}

namespace {
// Every item's id, one row per fetch().
struct all_ids {
    explicit all_ids(soci::session& sql)
        : select{(sql.prepare << "select id from items order by id", soci::into(id))} {}
    int id = 0;
    soci::statement select;
};
}  // namespace

TEST_CASE("connection_state: a kept select left unfinished is ended when its connection goes back",
          "[db]") {
    test::database db;
    create_items(db);
    for (const bool autocommit : {false, true}) {
        DYNAMIC_SECTION("autocommit " << autocommit) {
            auto factory = asio_soci::make_session_factory(
                db.url(), {.pool_size = 1, .autocommit = autocommit});
            asio::io_context io;
            auto first_id = [&]() -> asio::awaitable<int> {
                auto s = co_await factory.async_acquire();
                co_return co_await asio_soci::as_future(s, [](soci::session& sql) {
                    auto& q = asio_soci::connection_state<all_ids>(sql);
                    q.select.execute(true);  // the first row, the others left unread
                    return q.id;
                });
            };
            CHECK(test::run(io, first_id()) == 1);
            // Committed by another connection: the pooled one must see it and be able to
            // write after it (on SQLite an unfinished statement would keep its old
            // snapshot: the count would be 2, and the insert would fail as busy).
            db.execute("delete from items where id > 2");
            db.execute("insert into items (id, name) values (3, 'three')");
            auto count = test::run(io, asio_soci::as_future(factory, [](soci::session& sql) {
                                       sql << "insert into items (id, name) values (4, 'four')";
                                       int n = 0;
                                       sql << "select count(*) from items", soci::into(n);
                                       return n;
                                   }));
            CHECK(count == 4);
        }
    }
}
