// Exception messages in log lines: one line, and no personal data unless asked for.
#include "support.hpp"

#include <soci/error.h>

#include <asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <exception>
#include <stdexcept>
#include <string>

TEST_CASE("errors: log_message keeps SOCI's message and statement, not the bound values") {
    // As SOCI 4.0.3 builds it for a failing statement on PostgreSQL.
    soci::soci_error error{
        "duplicate key value violates unique constraint \"users_name_key\"\n"
        "DETAIL:  Key (name)=(ann@example.org) already exists.\n"};
    error.add_context(
        "while executing \"insert into users (name) values (:name)\" with "
        ":name=\"ann@example.org\"");
    REQUIRE_THAT(error.what(), Catch::Contains("ann@example.org"));

    const auto line = asio_soci::log_message(error);
    CHECK(line ==
          "duplicate key value violates unique constraint \"users_name_key\" while executing "
          "\"insert into users (name) values (:name)\"");
    CHECK_THAT(asio_soci::log_message(error, true), Catch::Contains(":name=\"ann@example.org\"") &&
                                                        !Catch::Contains("\n") &&
                                                        Catch::Contains("DETAIL: Key"));

    // Without context, or not from SOCI: the message, on one line.
    CHECK(asio_soci::log_message(soci::soci_error("no such table: users")) ==
          "no such table: users");
    CHECK(asio_soci::log_message(std::runtime_error("a\n\tb  c\n")) == "a b c");
}

namespace {

// Runs `statement` in a one-shot call and returns what it threw.
std::exception_ptr failure_of(const asio_soci::session_factory& factory, std::string statement) {
    try {
        asio_soci::as_future(
            factory, [](soci::session& sql, const std::string& text) { sql << text; }, statement,
            asio::use_future)
            .get();
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

template <class Error>
const Error* as(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const Error& e) {
        return &e;  // the exception object lives as long as `failure` refers to it
    } catch (...) {
    }
    return nullptr;
}

}  // namespace

TEST_CASE("errors: integrity errors are caught by meaning on every backend", "[db]") {
    test::database db;
    const auto parents = db.create_table("parents");
    const auto children = db.table("children");
    db.execute("create table " + children +
               " (id integer primary key, parent_id integer not "
               "null references " +
               parents + " (id), age integer constraint " + children +
               "_age_check check (age >= 0))");
    db.execute("insert into " + parents + " (id, name) values (1, 'ann')");
    // SQLite checks foreign keys only when asked, per connection.
    auto factory = asio_soci::make_session_factory(
        db.url(), {.pool_size = 1, .on_connect = [&](soci::session& sql) {
                       if (!db.is_postgresql())
                           sql << "PRAGMA foreign_keys = ON";
                   }});

    auto failure = failure_of(factory, "insert into " + parents + " (id, name) values (2, 'ann')");
    const auto* unique = as<asio_soci::unique_violation>(failure);
    REQUIRE(unique);
    CHECK(as<asio_soci::integrity_error>(failure));
    CHECK(as<soci::soci_error>(failure));  // still SOCI's error, with SOCI's message
    CHECK(unique->get_error_category() == soci::soci_error::constraint_violation);
    if (db.is_postgresql()) {
        CHECK(unique->sqlstate() == "23505");
        CHECK(unique->constraint() == parents + "_name_key");
    } else {
        CHECK(unique->native_code() == 2067);  // SQLITE_CONSTRAINT_UNIQUE
        CHECK(unique->constraint() == parents + ".name");
    }
    CHECK(as<asio_soci::unique_violation>(
        failure_of(factory, "insert into " + parents + " (id, name) values (1, 'bob')")));

    failure = failure_of(factory, "insert into " + children + " (id, parent_id) values (1, 9)");
    CHECK(as<asio_soci::foreign_key_violation>(failure));
    failure = failure_of(factory, "insert into " + children + " (id) values (1)");
    const auto* not_null = as<asio_soci::not_null_violation>(failure);
    REQUIRE(not_null);
    CHECK(not_null->constraint() == children + ".parent_id");
    failure =
        failure_of(factory, "insert into " + children + " (id, parent_id, age) values (1, 1, -1)");
    const auto* check = as<asio_soci::check_violation>(failure);
    REQUIRE(check);
    CHECK_THAT(check->constraint(),
               Catch::Contains(db.is_postgresql() ? children + "_age_check" : std::string("age")));
    // Not recognised: SOCI's own type, unchanged.
    failure = failure_of(factory, "select * from no_such_table_here");
    CHECK(as<soci::soci_error>(failure));
    CHECK_FALSE(as<asio_soci::database_error>(failure));
}

TEST_CASE("errors: a connection the server ends during a call is connection_lost",
          "[db][postgresql]") {
    test::database db;
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    auto failure = failure_of(factory, "select pg_terminate_backend(pg_backend_pid())");
    CHECK(as<asio_soci::connection_lost>(failure));
    // The pool replaced the connection.
    CHECK_FALSE(failure_of(factory, "select 1"));
}
