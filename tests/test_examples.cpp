// Integration tests of the example servers: each is started as a process on a free
// port, against the database under test, and spoken to over real sockets.
#include "example_support.hpp"
#include "support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

using test::async_http;
using test::http;
using test::http_response;
using test::server_process;

// The value of `key=N` in a /stats body.
long stat(const std::string& stats, const std::string& key) {
    std::smatch match;
    std::regex pattern{"(^| )" + key + "=([0-9]+)"};
    REQUIRE(std::regex_search(stats, match, pattern));
    return std::stol(match[2]);
}

// Polls GET /stats until `done(stats body)`; fails after 20 s.
asio::awaitable<void> until_stats(unsigned short port,
                                  const std::function<bool(const std::string&)>& done) {
    const auto deadline = clock_type::now() + 20s;
    for (;;) {
        auto stats = co_await async_http(port, "GET", "/stats");
        if (done(stats.body))
            co_return;
        if (clock_type::now() > deadline)
            FAIL("pool never reached the expected state: " << stats.body);
    }
}

std::vector<std::string> server_args(const test::database& db, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--database-url", db.url(), "--port", "0"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

}  // namespace

TEST_CASE("example: users_server serves tornado-sqlalchemy's routes", "[db][examples]") {
    test::database db;
    server_process server{USERS_SERVER, server_args(db)};
    const auto port = server.port();

    for (const char* path : {"/", "/sync", "/callback", "/coroutine"}) {
        auto response = http(port, "GET", path);
        INFO(path);
        CHECK(response.status == 200);
        CHECK(response.body == "0 users so far!\n");
        CHECK(response.headers["content-type"] == "text/plain; charset=utf-8");
    }

    CHECK(
        http(port, "POST", "/users", "username=ann", "application/x-www-form-urlencoded").status ==
        201);
    CHECK(http(port, "POST", "/users", R"({"username": "b\"ob"})", "application/json").status ==
          201);
    auto duplicate = http(port, "POST", "/users", R"({"username":"ann"})", "application/json");
    CHECK(duplicate.status == 409);
    CHECK(duplicate.body == "username already taken: ann\n");
    CHECK(http(port, "POST", "/users", "name=carl", "application/x-www-form-urlencoded").status ==
          400);
    CHECK(http(port, "POST", "/users", "username=" + std::string(256, 'x'),
               "application/x-www-form-urlencoded")
              .status == 400);
    CHECK(http(port, "POST", "/users", "{}", "application/json").status == 400);

    for (const char* path : {"/", "/sync", "/callback", "/coroutine"})
        CHECK(http(port, "GET", path).body == "2 users so far!\n");
    if (db.is_postgresql())
        CHECK(http(port, "GET", "/zero-hop").body == "2 users so far!\n");
    else
        CHECK(http(port, "GET", "/zero-hop").status == 501);
    CHECK(db.scalar("select count(*) from users") == 2);  // committed, really there
    CHECK(http(port, "GET", "/health").body == "ok\n");
    CHECK(http(port, "GET", "/no/such/page").status == 404);
    CHECK(http(port, "GET", "/slow").status == 404);  // only with --enable-slow-endpoint
    CHECK(server.stop() == 0);

    // The schema came from the embedded migrations; a restart finds it up to date and
    // keeps the data.
    CHECK(db.scalar("select count(*) from asio_soci_migrations") == 1);
    server_process restarted{USERS_SERVER, server_args(db)};
    CHECK(http(restarted.port(), "GET", "/").body == "2 users so far!\n");
    CHECK(db.scalar("select count(*) from asio_soci_migrations") == 1);
    CHECK(restarted.stop() == 0);
}

TEST_CASE("example: the users migrations, generated from the model, still match it",
          "[db][examples]") {
    test::database db;
    // users_migrate wrote them (autogenerate); a change to the model without a new
    // migration fails here, as `check-models` fails a CI job.
    const std::string dir =
        std::string(USERS_MIGRATIONS_DIR) + (db.is_postgresql() ? "/postgresql" : "/sqlite");
    auto users_migrate = [&](const std::string& command) {
        return test::run_process(USERS_MIGRATE, {"--url", db.url(), "--dir", dir, command});
    };
    CHECK(users_migrate("upgrade") == 0);
    CHECK(users_migrate("check-models") == 0);
    db.execute("alter table users add column nickname text");
    CHECK(users_migrate("check-models") == 1);
}

TEST_CASE("example: users_server answers /health at once while pool_size 1 is busy",
          "[db][examples]") {
    test::database db;
    server_process server{USERS_SERVER,
                          server_args(db, {"--pool-size", "1", "--enable-slow-endpoint"})};
    const auto port = server.port();

    asio::io_context io;
    constexpr int slow_requests = 20;
    int slow_ok = 0;
    int slow_done = 0;
    for (int i = 0; i < slow_requests; ++i) {
        asio::co_spawn(io, async_http(port, "GET", "/slow?ms=100"),
                       [&](std::exception_ptr error, http_response response) {
                           ++slow_done;
                           if (!error && response.status == 200)
                               ++slow_ok;
                       });
    }
    int done_when_healthy = -1;
    clock_type::duration health_latency{};
    http_response health;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            // Most slow requests are queued for the one connection now...
            co_await until_stats(port, [](const std::string& stats) {
                return stat(stats, "in_use") == 1 && stat(stats, "waiting") >= 10;
            });
            // ...and a request that needs no database is still answered at once.
            auto start = clock_type::now();
            health = co_await async_http(port, "GET", "/health");
            health_latency = clock_type::now() - start;
            done_when_healthy = slow_done;
        },
        [](std::exception_ptr error) {
            if (error)
                std::rethrow_exception(error);
        });
    io.run();

    CHECK(health.status == 200);
    CHECK(health_latency < 500ms);
    CHECK(done_when_healthy < slow_requests - 5);  // answered long before the queue drained
    CHECK(slow_ok == slow_requests);               // and every waiter was served in the end
    CHECK(server.stop() == 0);
}

TEST_CASE("example: users_server answers 503 with Retry-After past acquire_timeout",
          "[db][examples]") {
    test::database db;
    server_process server{USERS_SERVER, server_args(db, {"--pool-size", "1", "--acquire-timeout-ms",
                                                         "200", "--enable-slow-endpoint"})};
    const auto port = server.port();

    asio::io_context io;
    std::vector<http_response> responses;
    for (int i = 0; i < 5; ++i) {
        asio::co_spawn(io, async_http(port, "GET", "/slow?ms=1500"),
                       [&](std::exception_ptr error, http_response response) {
                           if (error)
                               std::rethrow_exception(error);
                           responses.push_back(std::move(response));
                       });
    }
    io.run();

    REQUIRE(responses.size() == 5);
    int ok = 0;
    int unavailable = 0;
    for (auto& response : responses) {
        if (response.status == 200)
            ++ok;
        if (response.status == 503) {
            ++unavailable;
            CHECK(response.headers["retry-after"] == "1");
            CHECK(response.body == "Service Unavailable: the database is busy, retry later\n");
        }
    }
    CHECK(ok == 1);  // one held the connection, the others waited 200 ms for it in vain
    CHECK(unavailable == 4);
    CHECK(http(port, "GET", "/stats").body.find("timeouts=4") != std::string::npos);
    CHECK(server.stop() == 0);
}

TEST_CASE("example: users_server lets a request in flight finish on SIGTERM or SIGINT",
          "[db][examples]") {
    const int signal = GENERATE(SIGTERM, SIGINT);
    test::database db;
    server_process server{USERS_SERVER,
                          server_args(db, {"--pool-size", "1", "--enable-slow-endpoint"})};
    const auto port = server.port();

    asio::io_context io;
    http_response slow;
    asio::co_spawn(io, async_http(port, "GET", "/slow?ms=300"),
                   [&](std::exception_ptr error, http_response response) {
                       if (error)
                           std::rethrow_exception(error);
                       slow = std::move(response);
                   });
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await until_stats(
                port, [](const std::string& stats) { return stat(stats, "in_use") == 1; });
            ::kill(server.pid(), signal);
        },
        [](std::exception_ptr error) {
            if (error)
                std::rethrow_exception(error);
        });
    io.run();

    CHECK(slow.status == 200);
    CHECK(slow.body == "held a connection for 300 ms\n");
    CHECK(server.wait() == 0);
}

TEST_CASE("example: multiple_databases_server writes to both databases in one request",
          "[db][examples]") {
    test::database users_db;
    test::database analytics_db;
    server_process server{
        MULTIPLE_DATABASES_SERVER,
        {"--database-url", users_db.url(), "--analytics-url", analytics_db.url(), "--port", "0"}};
    const auto port = server.port();

    CHECK(http(port, "GET", "/").body == "users: 0, events: 0\n");
    auto added = http(port, "POST", "/signup", "username=ann", "application/x-www-form-urlencoded");
    CHECK(added.status == 201);
    CHECK(added.body == "users: 1, events: 1\n");
    auto again = http(port, "POST", "/signup", "username=ann", "application/x-www-form-urlencoded");
    CHECK(again.status == 409);
    CHECK(http(port, "POST", "/signup", "", "application/x-www-form-urlencoded").status == 400);
    CHECK(http(port, "GET", "/").body == "users: 1, events: 1\n");  // the 409 rolled back
    CHECK(analytics_db.scalar("select count(*) from events") == 1);
    // Each database got its own migrations, recorded in its own version table.
    CHECK(users_db.scalar("select count(*) from asio_soci_migrations") == 1);
    CHECK(analytics_db.scalar("select count(*) from analytics_migrations") == 1);
    CHECK(server.stop() == 0);
}

TEST_CASE("example: raw_asio_server speaks its line protocol", "[db][examples]") {
    test::database db;
    server_process server{RAW_ASIO_SERVER, server_args(db)};

    asio::io_context io;
    tcp::socket socket{io};
    socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
    std::string buffer;
    auto ask = [&](const std::string& line) {
        asio::write(socket, asio::buffer(line + "\n"));
        auto n = asio::read_until(socket, asio::dynamic_buffer(buffer), '\n');
        std::string reply = buffer.substr(0, n - 1);
        buffer.erase(0, n);
        return reply;
    };

    CHECK(ask("COUNT") == "OK 0");
    CHECK(ask("ADD ann") == "OK added");
    CHECK(ask("ADD ann") == "ERR duplicate");
    CHECK(ask("ADD ") == "ERR missing username");
    CHECK(ask("ADD " + std::string(256, 'x')) == "ERR username longer than 255 characters");
    CHECK(ask("COUNT") == "OK 1");
    CHECK(ask("DROP TABLE users") == "ERR unknown command");
    CHECK(ask("QUIT") == "OK bye");
    CHECK(server.stop() == 0);
}
