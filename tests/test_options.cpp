#include <asio_soci/asio_soci.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;

TEST_CASE("options: invalid values are rejected with a clear message") {
    using asio_soci::make_session_factory;
    REQUIRE_THROWS_WITH(make_session_factory("sqlite://", {.pool_size = 0}),
                        Catch::Contains("pool_size must be at least 1"));
    REQUIRE_THROWS_AS(make_session_factory("sqlite://", {.acquire_timeout = -1s}),
                      std::invalid_argument);
    REQUIRE_THROWS_WITH(make_session_factory("sqlite://", {.acquire_timeout = 0ms}),
                        Catch::Contains("acquire_timeout must be positive"));
    REQUIRE_THROWS_WITH(make_session_factory("sqlite://", {.max_lifetime = -5ms}),
                        Catch::Contains("max_lifetime must not be negative, got -5 ms"));
    REQUIRE_THROWS_WITH(make_session_factory("sqlite://", {.idle_timeout = -1ms}),
                        Catch::Contains("idle_timeout"));
    REQUIRE_THROWS_WITH(make_session_factory("sqlite://", {.slow_call_threshold = -1ms}),
                        Catch::Contains("slow_call_threshold"));
}

TEST_CASE("options: bad URLs fail at factory creation, without a connection attempt") {
    using asio_soci::make_session_factory;
    REQUIRE_THROWS_AS(make_session_factory("oracle://scott:tiger@db/orcl"), asio_soci::url_error);
    REQUIRE_THROWS_WITH(make_session_factory("sqlite:///x.db?journal_mode=w@l"),
                        Catch::Contains("journal_mode"));
    REQUIRE_THROWS_WITH(make_session_factory("sqlite:///x.db?busy_timeout=soon"),
                        Catch::Contains("busy_timeout"));
    REQUIRE_THROWS_WITH(make_session_factory("sqlite:///x.db?cache=shared"),
                        Catch::Contains("unknown SQLite URL parameter \"cache\""));
}

TEST_CASE("options: a factory is created without connecting, with documented defaults") {
    // Port 1 on loopback refuses connections: creating the factory must not notice.
    auto factory = asio_soci::make_session_factory("postgresql://u:pw@127.0.0.1:1/none");
    auto stats = factory.stats();
    CHECK(stats.size == 5);
    CHECK(stats.open == 0);
    CHECK(stats.idle == 5);
    CHECK(stats.connects_total == 0);
    CHECK(factory.options().acquire_timeout == 30s);
    CHECK(factory.url().to_string() == "postgresql://u:***@127.0.0.1:1/none");
}

TEST_CASE("options: an in-memory SQLite database gets exactly one connection") {
    auto factory = asio_soci::make_session_factory("sqlite://", {.pool_size = 8});
    CHECK(factory.stats().size == 1);
}
