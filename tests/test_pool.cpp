#include "support.hpp"

#include <asio/bind_executor.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_future.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

asio::awaitable<int> count_rows(asio_soci::session& s, const std::string& table) {
    co_return co_await asio_soci::as_future(s, [&](soci::session& sql) {
        int n = 0;
        sql << "select count(*) from " + table, soci::into(n);
        return n;
    });
}

}  // namespace

TEST_CASE("pool: 200 concurrent coroutines over pool_size 4 all finish", "[db]") {
    test::database db;
    auto table = db.create_table("many");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 4});
    asio::io_context io;
    int finished = 0;
    for (int i = 0; i < 200; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                asio_soci::request_scope scope{factory};
                asio_soci::session& s = co_await scope.session();
                co_await asio_soci::as_future(s, [&](soci::session& sql) {
                    // (SOCI binds by reference: no temporaries in soci::use.)
                    const std::string name = "row" + std::to_string(i);
                    sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(i),
                        soci::use(name);
                });
                co_await s.async_commit();
                ++finished;
            },
            [](std::exception_ptr e) {
                if (e)
                    std::rethrow_exception(e);
            });
    }
    io.run();
    CHECK(finished == 200);
    CHECK(db.scalar("select count(*) from " + table) == 200);
    auto stats = factory.stats();
    CHECK(stats.in_use == 0);
    CHECK(stats.waiting == 0);
    CHECK(stats.open <= 4);
    CHECK(stats.acquired_total == 200);
}

TEST_CASE("pool: pool_size 1 serves 50 waiters in FIFO order while the loop stays responsive",
          "[db]") {
    test::database db;
    auto table = db.create_table("fifo");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;

    // A ticker on the same io_context: each holder waits for a tick while it holds the
    // only connection, which needs the loop to run timers while 49 others are queued.
    std::uint64_t ticks = 0;
    bool done = false;
    asio::steady_timer ticker{io};
    std::function<void()> tick = [&] {
        ticker.expires_after(1ms);
        ticker.async_wait([&](std::error_code) {
            ++ticks;
            if (!done)
                tick();
        });
    };
    tick();

    std::vector<int> order;
    int remaining = 50;
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                auto s = co_await factory.async_acquire();
                order.push_back(i);
                co_await asio_soci::as_future(s, [&](soci::session& sql) {
                    const std::string name = "x" + std::to_string(i);
                    sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(i),
                        soci::use(name);
                });
                co_await s.async_commit();
                const auto seen = ticks;
                asio::steady_timer wait{io};
                while (ticks == seen) {
                    wait.expires_after(1ms);
                    co_await wait.async_wait(asio::use_awaitable);
                }
                if (--remaining == 0)
                    done = true;
            },
            asio::detached);
    }
    io.run();
    REQUIRE(order.size() == 50);
    for (int i = 0; i < 50; ++i)
        CHECK(order[i] == i);
    CHECK(ticks >= 50);
    CHECK(db.scalar("select count(*) from " + table) == 50);
    const auto waits = factory.stats().acquire_wait;
    CHECK(waits.count == 50);
    // The last waiter waited for 49 holders, each of which held on for a tick of at
    // least 1 ms.
    CHECK(waits.max >= 40ms);
}

TEST_CASE("pool: an exhausted pool fails acquisition with pool_timeout", "[db]") {
    test::database db;
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .acquire_timeout = 50ms});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto held = co_await factory.async_acquire();
        try {
            co_await factory.async_acquire();
            FAIL("acquired a second session from a pool of one");
        } catch (const asio_soci::pool_timeout& e) {
            CHECK_THAT(e.what(),
                       Catch::Contains("pool exhausted") && Catch::Contains("within 50 ms"));
        }
        // Once the holder lets go, the next acquisition succeeds.
        held.release();
        auto next = co_await factory.async_acquire();
        CHECK(static_cast<bool>(next));
    }());
    CHECK(factory.stats().timeouts_total == 1);
}

TEST_CASE("pool: beyond max_waiting queued acquisitions, one fails at once", "[db]") {
    test::database db;
    // acquire_timeout 10 min: a refusal must not come from the timer.
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .acquire_timeout = 600s, .max_waiting = 2});
    asio::io_context io;
    auto held = test::run(io, factory.async_acquire());

    // Two may wait...
    int granted = 0;
    for (int i = 0; i < 2; ++i) {
        factory.async_acquire(
            asio::bind_executor(io, [&](std::exception_ptr error, asio_soci::session s) {
                CHECK_FALSE(error);
                granted += s ? 1 : 0;
            }));
    }
    io.restart();
    io.poll();
    CHECK(factory.stats().waiting == 2);
    // ...a third is refused without waiting, and the one-shot form too.
    std::exception_ptr refused;
    factory.async_acquire(asio::bind_executor(
        io, [&](std::exception_ptr error, asio_soci::session) { refused = error; }));
    std::exception_ptr refused_call;
    asio_soci::as_future(
        factory, [](soci::session&) {},
        asio::bind_executor(io, [&](std::exception_ptr error) { refused_call = error; }));
    io.restart();
    io.poll();
    for (const auto& error : {refused, refused_call}) {
        REQUIRE(error);
        try {
            std::rethrow_exception(error);
        } catch (const asio_soci::pool_timeout& e) {
            CHECK_THAT(e.what(), Catch::Contains("2 acquisitions waiting already") &&
                                     Catch::Contains("max_waiting 2"));
        }
    }
    CHECK(factory.stats().rejected_total == 2);
    CHECK(factory.stats().timeouts_total == 0);

    // The two that waited are served in turn once the holder lets go.
    held.release();
    io.restart();
    io.run();
    CHECK(granted == 2);
}

// The issue's own example: a session's calls run in a transaction the first call
// begins; only async_commit() keeps its work.
TEST_CASE("pool: an uncommitted transaction is rolled back when the session goes back", "[db]") {
    test::database db;
    auto table = db.create_table("tx");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto insert = [&](int id) {
        return [&table, id](soci::session& sql) {
            const std::string name = "n" + std::to_string(id);
            sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(id),
                soci::use(name);
        };
    };
    test::run(io, [&]() -> asio::awaitable<void> {
        {
            asio_soci::request_scope scope{factory};
            asio_soci::session& s = co_await scope.session();
            co_await asio_soci::as_future(s, insert(1));
        }  // no commit: rolled back on release
        {
            asio_soci::request_scope scope{factory};
            asio_soci::session& s = co_await scope.session();
            co_await asio_soci::as_future(s, insert(2));
            co_await s.async_commit();
            co_await s.async_commit();                    // nothing open: does nothing
            co_await asio_soci::as_future(s, insert(3));  // begins the next transaction
            co_await s.async_rollback();
            co_await asio_soci::as_future(s, insert(4));
        }  // 4 is not committed either
        {
            asio_soci::request_scope scope{factory};
            asio_soci::session& s = co_await scope.session();
            co_await s.async_begin();  // explicit, before any call: fine
            co_await asio_soci::as_future(s, insert(5));
            co_await s.async_commit();
            co_await asio_soci::as_future(s, insert(6));
            // A call began a transaction already: an explicit begin is refused.
            bool refused = false;
            try {
                co_await s.async_begin();
            } catch (const std::logic_error& e) {
                refused = std::string_view{e.what()}.find("already open") != std::string_view::npos;
            }
            CHECK(refused);
            co_await s.async_commit();
        }
        asio_soci::request_scope scope{factory};
        asio_soci::session& s = co_await scope.session();
        CHECK(co_await count_rows(s, table) == 3);
    }());
    CHECK(db.scalar("select count(*) from " + table + " where id in (2, 5, 6)") == 3);
}

TEST_CASE("pool: with autocommit, each statement commits on its own", "[db]") {
    test::database db;
    auto table = db.create_table("autocommit");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1, .autocommit = true});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        {
            asio_soci::request_scope scope{factory};
            asio_soci::session& s = co_await scope.session();
            co_await asio_soci::as_future(s, [&](soci::session& sql) {
                sql << "insert into " + table + " (id, name) values (1, 'kept')";
            });
        }  // nothing to roll back
        asio_soci::request_scope scope{factory};
        asio_soci::session& s = co_await scope.session();
        co_await s.async_begin();  // an explicit transaction still works
        co_await asio_soci::as_future(s, [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (2, 'undone')";
        });
    }());
    CHECK(db.scalar("select count(*) from " + table + " where id = 1") == 1);
    CHECK(db.scalar("select count(*) from " + table + " where id = 2") == 0);
}

TEST_CASE("pool: a PostgreSQL transaction with a failed statement refuses to commit",
          "[db][postgresql]") {
    test::database db;
    auto table = db.create_table("failed_tx");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto s = co_await factory.async_acquire();
        co_await asio_soci::as_future(s, [&](soci::session& sql) {
            sql << "insert into " + table + " (id, name) values (1, 'lost')";
        });
        try {
            co_await asio_soci::as_future(
                s, [](soci::session& sql) { sql << "select * from no_such_table"; });
        } catch (const soci::soci_error&) {
            // caught and ignored: the mistake under test
        }
        bool refused = false;
        try {
            co_await s.async_commit();  // PostgreSQL would answer ROLLBACK, with success
        } catch (const asio_soci::transaction_failed& e) {
            const std::string_view message{e.what()};
            refused = message.find("nothing was committed") != std::string_view::npos &&
                      message.find("no_such_table") != std::string_view::npos;
        }
        CHECK(refused);
        // Rolled back: the session goes on with a new transaction.
        CHECK(co_await count_rows(s, table) == 0);
    }());
    CHECK(db.scalar("select count(*) from " + table) == 0);
}

TEST_CASE("pool: on_connect runs once for every new connection", "[db]") {
    test::database db;
    std::atomic<int> connects{0};
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 3, .on_connect = [&](soci::session&) { ++connects; }});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        auto a = co_await factory.async_acquire();
        auto b = co_await factory.async_acquire();
        a.release();
        auto c = co_await factory.async_acquire();  // reuses a's connection
    }());
    CHECK(connects == 2);
    CHECK(factory.stats().connects_total == 2);
}

TEST_CASE("pool: a failing on_connect fails the acquisition with its own exception", "[db]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(
        db.url(), {.on_connect = [](soci::session&) { throw std::domain_error("no hook"); }});
    asio::io_context io;
    CHECK_THROWS_AS(test::run(io, factory.async_acquire()), std::domain_error);
    auto stats = factory.stats();
    CHECK(stats.open == 0);
    CHECK(stats.in_use == 0);
}

TEST_CASE("pool: an in-memory SQLite database is one database for every session") {
    auto factory = asio_soci::make_session_factory("sqlite://", {.pool_size = 4});
    asio::io_context io;
    test::run(io, [&]() -> asio::awaitable<void> {
        co_await asio_soci::as_future(factory, [](soci::session& sql) {
            sql << "create table t (x integer)";
            sql << "insert into t values (1)";
        });
        int n = co_await asio_soci::as_future(factory, [](soci::session& sql) {
            int count = 0;
            sql << "select count(*) from t", soci::into(count);
            return count;
        });
        CHECK(n == 1);
    }());
}

TEST_CASE("pool: a connection failure names the server and never the password") {
    // Nothing listens on port 1: the connection is refused at once.
    auto factory = asio_soci::make_session_factory(
        "postgresql://app:hunter2secret@127.0.0.1:1/app?connect_timeout=2");
    asio::io_context io;
    try {
        test::run(io, factory.async_acquire());
        FAIL("connected to a closed port");
    } catch (const asio_soci::connection_error& e) {
        std::string message = e.what();
        CHECK_THAT(message, Catch::Contains("127.0.0.1") && Catch::Contains("app:***@"));
        CHECK_THAT(message, !Catch::Contains("hunter2secret"));
    }
    auto stats = factory.stats();
    CHECK(stats.connect_failures_total == 1);
    CHECK(stats.in_use == 0);
}

TEST_CASE("pool: a connection killed by the server is replaced", "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto backend_pid = [](soci::session& sql) {
        int pid = 0;
        sql << "select pg_backend_pid()", soci::into(pid);
        return pid;
    };
    auto kill = [&](int pid) {
        auto admin = db.connect();
        *admin << "select pg_terminate_backend(" + std::to_string(pid) + ")";
        int alive = 1;
        while (alive != 0)  // waits for the event: the backend has exited
            *admin << "select count(*) from pg_stat_activity where pid = :p", soci::use(pid),
                soci::into(alive);
    };

    SECTION("while idle in the pool: the next session gets a fresh one") {
        int first = test::run(io, asio_soci::as_future(factory, backend_pid));
        kill(first);
        int second = test::run(io, asio_soci::as_future(factory, backend_pid));
        CHECK(second != first);
        CHECK(factory.stats().discarded_total == 1);
    }
    SECTION("while leased: the call fails, and the next session works") {
        test::run(io, [&]() -> asio::awaitable<void> {
            int first = 0;
            {
                auto s = co_await factory.async_acquire();
                first = co_await asio_soci::as_future(s, backend_pid);
                kill(first);
                CHECK_THROWS_AS(co_await asio_soci::as_future(s, backend_pid), soci::soci_error);
            }
            auto s = co_await factory.async_acquire();
            int second = co_await asio_soci::as_future(s, backend_pid);
            CHECK(second != first);
        }());
        CHECK(factory.stats().discarded_total == 1);
    }
}

TEST_CASE("pool: PostgreSQL over a unix socket (?host=/directory)", "[db][postgresql]") {
    test::database db;
    std::string directories;
    *db.connect() << "show unix_socket_directories", soci::into(directories);
    const auto tcp = asio_soci::database_url::parse(db.url());
    if (directories.empty() || (tcp.host() != "127.0.0.1" && tcp.host() != "localhost")) {
        WARN("the test server has no local unix socket: not tested");
        return;
    }
    const std::string url = "postgresql://" + tcp.username() + "@/" + tcp.database() +
                            "?host=" + directories.substr(0, directories.find(',')) +
                            "&port=" + std::to_string(tcp.port().value_or(5432));
    auto factory = asio_soci::make_session_factory(url, {.pool_size = 1});
    asio::io_context io;
    auto server_address = test::run(io, asio_soci::as_future(factory, [](soci::session& sql) {
                                        // NULL (no address) on a unix-domain socket
                                        std::string address;
                                        sql << "select coalesce(inet_server_addr()::text, 'none')",
                                            soci::into(address);
                                        return address;
                                    }));
    CHECK(server_address == "none");
}

TEST_CASE("pool: pre_ping and max_lifetime reopen connections before handing them out", "[db]") {
    test::database db;
    asio::io_context io;
    SECTION("max_lifetime") {
        auto factory = asio_soci::make_session_factory(
            db.url(), {.pool_size = 1, .max_lifetime = std::chrono::milliseconds{1}});
        test::run(io, asio_soci::as_future(factory, [](soci::session&) {}));
        // Waits for the event "the connection is older than max_lifetime".
        const auto opened = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - opened < 2ms) {
        }
        test::run(io, asio_soci::as_future(factory, [](soci::session&) {}));
        CHECK(factory.stats().connects_total == 2);
    }
    SECTION("idle_timeout") {
        auto factory = asio_soci::make_session_factory(
            db.url(), {.pool_size = 1, .idle_timeout = std::chrono::milliseconds{1}});
        test::run(io, asio_soci::as_future(factory, [](soci::session&) {}));
        CHECK(factory.stats().connects_total == 1);
        // Waits for the event "the connection has been idle for longer than idle_timeout".
        const auto released = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - released < 2ms) {
        }
        test::run(io, asio_soci::as_future(factory, [](soci::session&) {}));
        CHECK(factory.stats().connects_total == 2);
    }
    SECTION("pre_ping") {
        auto factory =
            asio_soci::make_session_factory(db.url(), {.pool_size = 1, .pre_ping = true});
        for (int i = 0; i < 3; ++i)
            test::run(io, asio_soci::as_future(factory, [](soci::session&) {}));
        auto stats = factory.stats();
        CHECK(stats.connects_total == 1);
        CHECK(stats.acquired_total == 3);
    }
}

TEST_CASE("pool: worker_threads threads run the calls, pool_size of them by default", "[db]") {
    test::database db;
    asio::io_context io;
    // Runs one blocking call on each of 4 sessions and counts the threads they ran on;
    // the calls wait until `concurrent` of them run at once (or 10 s have passed).
    auto threads_used = [&](const asio_soci::session_factory& factory, int concurrent) {
        auto sessions = test::run(io, [&]() -> asio::awaitable<std::vector<asio_soci::session>> {
            std::vector<asio_soci::session> leased;
            for (int i = 0; i < 4; ++i)
                leased.push_back(co_await factory.async_acquire());
            co_return leased;
        }());
        std::mutex mutex;
        std::condition_variable all_running;
        int running = 0;
        bool reached = false;
        std::set<std::thread::id> threads;
        std::vector<std::future<void>> calls;
        for (auto& s : sessions)
            calls.push_back(asio_soci::as_future(
                s,
                [&](soci::session&) {
                    std::unique_lock lock{mutex};
                    threads.insert(std::this_thread::get_id());
                    if (++running >= concurrent) {
                        reached = true;
                        all_running.notify_all();
                    }
                    all_running.wait_for(lock, 10s, [&] { return reached; });
                    --running;
                },
                asio::use_future));
        for (auto& call : calls)
            call.get();
        std::lock_guard lock{mutex};
        return std::pair{reached, threads.size()};
    };
    SECTION("default: as many as pool_size, so every session's call can run at once") {
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 4});
        CHECK(threads_used(factory, 4) == std::pair{true, std::size_t{4}});
    }
    SECTION("worker_threads = 2: the calls of 4 sessions share 2 threads") {
        auto factory =
            asio_soci::make_session_factory(db.url(), {.pool_size = 4, .worker_threads = 2});
        CHECK(threads_used(factory, 2) == std::pair{true, std::size_t{2}});
    }
}

TEST_CASE("pool: concurrent read-then-write transactions all commit", "[db]") {
    // On SQLite this needs WAL, a busy timeout and BEGIN IMMEDIATE: a deferred
    // transaction that reads and then writes fails with "database is locked".
    test::database db;
    auto table = db.create_table("writers");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 4});
    asio::io_context io;
    constexpr int writers = 8, rows_each = 50;
    auto writer = [&](int w) -> asio::awaitable<void> {
        for (int i = 0; i < rows_each; ++i) {
            auto s = co_await factory.async_acquire();
            co_await s.async_begin();
            co_await asio_soci::as_future(s, [&](soci::session& sql) {
                int next = 0;
                sql << "select count(*) from " + table, soci::into(next);
                const int id = w * rows_each + i;
                const std::string name = std::to_string(id) + "/" + std::to_string(next);
                sql << "insert into " + table + " (id, name) values (:id, :name)", soci::use(id),
                    soci::use(name);
            });
            co_await s.async_commit();
        }
    };
    CHECK(test::run_concurrently(io, writers, writer) == 0);
    CHECK(db.scalar("select count(*) from " + table) == writers * rows_each);
}

TEST_CASE("pool: connects, reconnects, exhaustion, slow calls and closes are logged", "[db]") {
    test::database db;
    auto output = std::make_shared<std::ostringstream>();
    auto logger = std::make_shared<spdlog::logger>(
        "pool", std::make_shared<spdlog::sinks::ostream_sink_mt>(*output));
    // On PostgreSQL with a password in the URL (the test server trusts local users, so
    // it goes unused), which no line may show.
    std::string url = db.url();
    const auto at = url.find('@');
    if (db.is_postgresql() && at != std::string::npos &&
        url.find(':', url.find("://") + 3) > at)  // a user and no password yet
        url.insert(at, ":hunter2");
    std::optional<asio_soci::session_factory> factory{asio_soci::make_session_factory(
        url, {.pool_size = 1, .logger = logger, .slow_call_threshold = 100ms})};
    asio::io_context io;
    auto backend_pid = [](soci::session& sql) {
        int pid = 0;
        if (sql.get_backend_name() == "postgresql")
            sql << "select pg_backend_pid()", soci::into(pid);
        return pid;
    };
    const int pid = test::run(io, asio_soci::as_future(*factory, [&](soci::session& sql) {
                                  const int pid = backend_pid(sql);
                                  int n = 0;
                                  sql << "select 7", soci::into(n);    // the last query: logged
                                  std::this_thread::sleep_for(200ms);  // the slow call under test
                                  return pid;
                              }));
    test::run(io, asio_soci::as_future(*factory, [](soci::session& sql) { sql << "select 8"; }));

    // A second acquisition queues behind the held connection.
    test::run(io, [&]() -> asio::awaitable<void> {
        auto held = co_await factory->async_acquire();
        asio::co_spawn(io, factory->async_acquire(), asio::detached);
        while (factory->stats().waiting == 0)
            co_await asio::post(io, asio::use_awaitable);
    }());

    if (db.is_postgresql()) {  // the server drops the connection: the next one replaces it
        auto admin = db.connect();
        *admin << "select pg_terminate_backend(" + std::to_string(pid) + ")";
        int alive = 1;
        while (alive != 0)
            *admin << "select count(*) from pg_stat_activity where pid = :p", soci::use(pid),
                soci::into(alive);
        CHECK(test::run(io, asio_soci::as_future(*factory, backend_pid)) != pid);
    }
    factory.reset();

    const auto text = output->str();
    CHECK_THAT(text, Catch::Contains("opened a connection to " + db.url().substr(0, 6)));
    CHECK_THAT(text, Catch::Contains("slow call") && Catch::Contains("select 7"));
    CHECK_THAT(text, !Catch::Contains("select 8"));
    CHECK_THAT(text, Catch::Contains("pool exhausted: all 1 connections"));
    CHECK_THAT(text, Catch::Contains("closed the pool of"));
    if (db.is_postgresql()) {
        CHECK_THAT(text, Catch::Contains("closed a connection to") &&
                             Catch::Contains("reconnected: opened a connection to"));
        CHECK_THAT(text, Catch::Contains(":***@"));  // the password, masked
    }
    CHECK_THAT(text, !Catch::Contains("hunter2"));
}

TEST_CASE("pool: many connections opening a new database at once all succeed", "[db]") {
    // SQLite: each new connection switches the new file to WAL, which needs the file to
    // itself; concurrent switches must not fail with "database is locked".
    for (int round = 0; round < 5; ++round) {
        test::database db;
        auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 8});
        asio::io_context io;
        int opened = 0;
        std::vector<asio_soci::session> held;
        for (int i = 0; i < 8; ++i) {
            asio::co_spawn(io, factory.async_acquire(),
                           [&](std::exception_ptr e, asio_soci::session s) {
                               CHECK_FALSE(e);
                               opened += static_cast<bool>(s);
                               // Held until all are open, so eight connections are opened.
                               if (opened < 8)
                                   held.push_back(std::move(s));
                           });
        }
        io.run();
        CHECK(opened == 8);
        held.clear();
    }
}

TEST_CASE("pool: a PostgreSQL server that never answers fails an acquisition in bounded time") {
    // A socket that listens and never accepts: the kernel completes the TCP handshake,
    // and libpq then waits for an answer that never comes.
    asio::io_context io;
    asio::ip::tcp::acceptor silent{io, {asio::ip::make_address("127.0.0.1"), 0}};
    const auto url =
        "postgresql://nobody@127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/db";
    auto factory = asio_soci::make_session_factory(url, {.pool_size = 1, .acquire_timeout = 2s});
    const auto start = std::chrono::steady_clock::now();
    auto acquired = factory.async_acquire(asio::use_future);
    // Without a bound the connect would wait forever (the test's timeout would end it);
    // libpq's connect_timeout follows acquire_timeout.
    CHECK_THROWS_AS(acquired.get(), asio_soci::connection_error);
    CHECK(std::chrono::steady_clock::now() - start < 20s);
}

TEST_CASE("pool: exhaustion is reported as it is while connections are still being opened",
          "[db]") {
    test::database db;
    // A sink the logger owns: the last reference to the pool may be dropped on a worker
    // (use_future's handlers complete there), so the pool may close, and log, after the
    // test's locals are gone.
    auto output = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    auto logger = std::make_shared<spdlog::logger>("pool", output);
    std::promise<void> open_gate;
    std::shared_future<void> opened{open_gate.get_future()};
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 2,
                   .on_connect = [opened](soci::session&) { opened.wait(); },
                   .logger = logger});
    // Both slots are taken by acquisitions whose connections are being opened (held in
    // on_connect); the third waits.
    auto first = factory.async_acquire(asio::use_future);
    auto second = factory.async_acquire(asio::use_future);
    auto third = factory.async_acquire(asio::use_future);
    std::string logged;
    for (const auto& line : output->last_formatted())
        logged += line;
    CHECK_THAT(logged, Catch::Contains("pool exhausted: all 2 connection slots for ") &&
                           Catch::Contains(" taken (0 connection(s) open, the others being "
                                           "opened), 1 acquisition(s) waiting"));
    CHECK_THAT(logged, !Catch::Contains("connections in use"));
    open_gate.set_value();
    std::optional<asio_soci::session> one{first.get()};
    auto two = second.get();
    CHECK((*one && two));
    one.reset();  // gives a connection back: the third acquisition gets it
    CHECK(third.get());
}

TEST_CASE("pool: a session given back with uncommitted writes is rolled back and counted", "[db]") {
    test::database db;
    const auto table = db.create_table("uncommitted");
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    auto insert = [&](soci::session& sql) {
        sql << "insert into " + table + " (id, name) values (1, 'never committed')";
    };
    auto count = [&](soci::session& sql) {
        int n = 0;
        sql << "select count(*) from " + table, soci::into(n);
        return n;
    };
    int seen = -1;
    test::run(io, [&]() -> asio::awaitable<void> {
        {
            auto s = co_await factory.async_acquire();
            co_await asio_soci::as_future(s, insert);
        }  // given back without a commit
        {
            auto s = co_await factory.async_acquire();  // the one connection, rolled back
            seen = co_await asio_soci::as_future(s, count);
        }                                  // a transaction that only read
        co_await factory.async_acquire();  // after that one's rollback too
    }());
    CHECK(seen == 0);
    CHECK(db.scalar("select count(*) from " + table) == 0);
    CHECK(factory.stats().uncommitted_rollbacks_total == 1);
}

TEST_CASE("pool: PostgreSQL's notices go to the factory's logger, one line each",
          "[db][postgresql]") {
    test::database db;
    test::log_watch warned{"asio_soci: PostgreSQL WARNING: careful: two lines"};
    auto factory =
        asio_soci::make_session_factory(db.url(), {.pool_size = 1, .logger = warned.logger});
    asio::io_context io;
    test::run(io, asio_soci::as_future(factory, [](soci::session& sql) {
                  sql << "do $$ begin raise warning 'careful: %', E'two\\nlines'; end $$";
              }));
    // The receiver runs on the worker before the call completes.
    CHECK(warned.seen.wait_for(std::chrono::seconds{0}) == std::future_status::ready);
}

TEST_CASE("pool: a SQLite file that cannot be opened is named with its resolved path") {
    auto factory = asio_soci::make_session_factory("sqlite:///nonexistent-asio-soci-dir/app.db");
    try {
        factory.async_acquire(asio::use_future).get();
        FAIL("opened a file in a directory that does not exist");
    } catch (const asio_soci::connection_error& e) {
        const auto resolved = std::filesystem::current_path() / "nonexistent-asio-soci-dir/app.db";
        CHECK_THAT(e.what(), Catch::Contains("(file " + resolved.string() + ")"));
    }
}
