// The C++ blocks of README.md, compiled with the tests; check_snippets.cpp keeps the
// README equal to the regions below (the `// [hide]` parts are the scaffolding).
// The layout is the docs', which show these regions verbatim: not reformatted.
// clang-format off

// [snippet usage]
#include <asio_soci/asio_soci.hpp>

using namespace std::chrono_literals;

auto factory = asio_soci::make_session_factory("postgresql://app:secret@127.0.0.1:5432/app",
                                               {.pool_size = 8, .acquire_timeout = 5s});

asio::awaitable<long long> count_users(asio_soci::session_factory factory) {
    asio_soci::request_scope scope{factory};            // tornado's SessionMixin
    asio_soci::session& s = co_await scope.session();   // lazily acquired, same one on every call
    long long n = co_await asio_soci::as_future(s, [](soci::session& sql) {
        long long n = 0;
        sql << "select count(*) from users", soci::into(n);
        return n;
    });
    co_await s.async_commit();                          // explicit; without it: rollback on release
    co_return n;
}                                                       // scope ends: session goes back to the pool
// [end]

// [snippet arguments]
// [hide]
asio::awaitable<void> add_user(asio_soci::session& s, std::string name) {
    // [show]
    co_await asio_soci::as_future(s, [](soci::session& sql, std::string name) {
        sql << "insert into users (username) values (:name)", soci::use(name);
    }, name);
    // [hide]
}
// [end]

// [snippet one-shot]
// [hide]
asio::awaitable<void> add_user(asio_soci::session_factory factory, std::string name) {
    // [show]
    co_await asio_soci::as_future(factory, [&](soci::session& sql) {
        sql << "insert into users (username) values (:name)", soci::use(name);
    });
    // [hide]
}
// [end]

// [snippet retry]
// [hide]
asio::awaitable<void> move_credit(asio_soci::session_factory factory) {
    auto transfer = [](soci::session& sql) {
        sql << "update accounts set balance = balance - 10 where id = 1";
        sql << "update accounts set balance = balance + 10 where id = 2";
    };
    // [show]
    co_await asio_soci::as_future(factory, transfer, asio_soci::retry_policy{.max_attempts = 5});
    // [hide]
}
// [end]

// [snippet connection-state]
struct find_user {
    explicit find_user(soci::session& sql)
        : select{(sql.prepare << "select name from users where id = :id",
                  soci::use(id), soci::into(name))} {}
    long long id = 0;
    std::string name;
    soci::statement select;
};

// [hide]
asio::awaitable<std::string> user_name(asio_soci::session& s, long long id) {
    // [show]
    auto name = co_await asio_soci::as_future(s, [](soci::session& sql, long long id) {
        auto& q = asio_soci::connection_state<find_user>(sql);
        q.id = id;
        if (!q.select.execute(true))
            return std::string{};
        q.select.fetch();  // read to the end: see below
        return q.name;
    }, id);
    // [hide]
    co_return name;
}
// [end]

// [snippet binds]
// [hide]
asio::awaitable<void> two_databases(asio_soci::session_factory users_db,
                                    asio_soci::session_factory events_db) {
    // [show]
    asio_soci::database_binds binds{{"default", users_db}, {"analytics", events_db}};
    asio_soci::request_scope scope{binds};
    asio_soci::session& users = co_await scope.session();
    asio_soci::session& events = co_await scope.session("analytics");
    // [hide]
    co_await users.async_commit();
    co_await events.async_commit();
}
// [end]

// [snippet errors]
// [hide]
asio::awaitable<void> try_add_user(asio_soci::session& s, std::string name) {
    auto insert_user = [](soci::session& sql, const std::string& name) {
        sql << "insert into users (username) values (:name)", soci::use(name);
    };
    // [show]
    try {
        co_await asio_soci::as_future(s, insert_user, name);
    } catch (const asio_soci::unique_violation& e) {
        // e.constraint(): "users_username_key" (PostgreSQL), "users.username" (SQLite)
    }
    // [hide]
}
// [end]
