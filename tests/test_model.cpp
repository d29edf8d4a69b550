// Declarative models: declarations, the schema made from them, rows converted by SOCI and
// the typed statements, on SQLite and PostgreSQL.
#include "support.hpp"

#include <asio_soci/model.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace models {

// Every portable type, and NULL.
struct sample {
    std::int64_t id = 0;
    std::int16_t small = 0;
    std::int32_t number = 0;
    std::int64_t big = 0;
    bool flag = false;
    float single = 0;
    double twice = 0;
    double amount = 0;
    std::string label;
    std::string code;
    std::tm day{};
    std::chrono::system_clock::time_point at;
    std::optional<int> maybe;
    std::optional<std::string> note;
    std::vector<std::byte> data;
    std::optional<std::vector<unsigned char>> thumbnail;
};

inline const asio_soci::table<sample>& table_of(asio_soci::model<sample>) {
    namespace sql = asio_soci::sql;
    static const auto table = asio_soci::table<sample>("samples")
                                  .column("id", &sample::id, sql::bigint, {.primary_key = true})
                                  .column("small", &sample::small, sql::smallint)
                                  .column("number", &sample::number, sql::integer)
                                  .column("big", &sample::big, sql::bigint)
                                  .column("flag", &sample::flag, sql::boolean)
                                  .column("single", &sample::single, sql::real)
                                  .column("twice", &sample::twice, sql::double_precision)
                                  .column("amount", &sample::amount, sql::numeric(12, 4))
                                  .column("label", &sample::label, sql::text)
                                  .column("code", &sample::code, sql::varchar(8))
                                  .column("day", &sample::day, sql::date)
                                  .column("at", &sample::at, sql::timestamp)
                                  .column("maybe", &sample::maybe, sql::integer)
                                  .column("note", &sample::note, sql::text)
                                  .column("data", &sample::data, sql::blob)
                                  .column("thumbnail", &sample::thumbnail, sql::blob);
    return table;
}

// tornado-sqlalchemy's README model, and a table that refers to it.
struct user {
    std::int64_t id = 0;
    std::string username;
    std::optional<std::string> email;
};

inline const asio_soci::table<user>& table_of(asio_soci::model<user>) {
    static const auto table =
        asio_soci::table<user>("users")
            .column("id", &user::id, asio_soci::sql::bigint,
                    {.primary_key = true, .identity = true})
            .column("username", &user::username, asio_soci::sql::varchar(255), {.unique = true})
            .column("email", &user::email, asio_soci::sql::text, {.index = true});
    return table;
}

struct post {
    std::int64_t id = 0;
    std::int64_t author = 0;
    std::string title;
    int votes = 0;
};

inline const asio_soci::table<post>& table_of(asio_soci::model<post>) {
    static const auto table =
        asio_soci::table<post>("posts")
            .column("id", &post::id, asio_soci::sql::bigint,
                    {.primary_key = true, .identity = true})
            .column("author", &post::author, asio_soci::sql::bigint,
                    {.foreign_key =
                         asio_soci::references{"users", "id", asio_soci::on_delete::cascade}})
            .column("title", &post::title, asio_soci::sql::text)
            .column("votes", &post::votes, asio_soci::sql::integer, {.default_value = 0})
            .index("ix_posts_author_title", {"author", "title"});
    return table;
}

// A composite primary key.
struct tag {
    std::int64_t post_id = 0;
    std::string name;
    std::optional<double> weight;
};

inline const asio_soci::table<tag>& table_of(asio_soci::model<tag>) {
    static const auto table = asio_soci::table<tag>("tags")
                                  .column("post_id", &tag::post_id, asio_soci::sql::bigint)
                                  .column("name", &tag::name, asio_soci::sql::varchar(40))
                                  .column("weight", &tag::weight, asio_soci::sql::real)
                                  .primary_key({"post_id", "name"});
    return table;
}

}  // namespace models

namespace {

bool table_exists(test::database& db, const std::string& name) {
    return db.scalar(db.is_postgresql()
                         ? "select count(*) from information_schema.tables where table_schema = "
                           "current_schema() and table_name = '" +
                               name + "'"
                         : "select count(*) from sqlite_master where type = 'table' and name = '" +
                               name + "'") == 1;
}

std::tm date_of(int year, int month, int day) {
    std::tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    return t;
}

}  // namespace

TEST_CASE("models: every column type round-trips, NULL included", "[db]") {
    test::database db;
    const auto metadata = asio_soci::metadata::of<models::sample>();
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, asio_soci::async_create_all(factory, metadata));

    models::sample extreme;
    extreme.id = 1;
    extreme.small = std::numeric_limits<std::int16_t>::min();
    extreme.number = std::numeric_limits<std::int32_t>::min();
    extreme.big = std::numeric_limits<std::int64_t>::max();
    extreme.flag = true;
    extreme.single = 1.5f;
    extreme.twice = -2.25e300;
    extreme.amount = 12345678.1234;
    extreme.label = std::string(1 << 20, 'x') + "héllo ✓ 日本";
    extreme.code = "ünï";
    extreme.day = date_of(2024, 2, 29);
    extreme.at = std::chrono::sys_days{std::chrono::year{1999} / 12 / 31} + 23h + 59min + 59s;
    extreme.maybe = -7;
    extreme.note = "";
    for (std::size_t i = 0; i < (1u << 20); ++i)  // 1 MiB, every byte value, NUL included
        extreme.data.push_back(static_cast<std::byte>(i * 7 % 256));
    extreme.thumbnail = std::vector<unsigned char>{0, 255, 0};

    models::sample empty;
    empty.id = 2;
    empty.small = std::numeric_limits<std::int16_t>::max();
    empty.big = std::numeric_limits<std::int64_t>::min();
    empty.day = date_of(1970, 1, 1);
    empty.at = std::chrono::sys_days{std::chrono::year{2038} / 1 / 20};

    auto [a, b] = test::run(io, asio_soci::as_future(factory, [&](soci::session& sql) {
                                asio_soci::insert_row(sql, extreme);
                                asio_soci::insert_row(sql, empty);
                                return std::pair{asio_soci::get_by_key<models::sample>(sql, 1),
                                                 asio_soci::get_by_key<models::sample>(sql, 2)};
                            }));
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->small == extreme.small);
    CHECK(a->number == extreme.number);
    CHECK(a->big == extreme.big);
    CHECK(a->flag);
    CHECK(a->single == 1.5f);
    CHECK(a->twice == extreme.twice);
    CHECK(a->amount == Approx(extreme.amount));
    CHECK(a->label == extreme.label);
    CHECK(a->code == extreme.code);
    CHECK(a->day.tm_year == 124);
    CHECK(a->day.tm_mon == 1);
    CHECK(a->day.tm_mday == 29);
    CHECK(a->at == extreme.at);
    CHECK(a->maybe == -7);
    CHECK(a->note == std::string());
    CHECK(a->data == extreme.data);
    CHECK(a->thumbnail == extreme.thumbnail);

    CHECK(b->small == empty.small);
    CHECK(b->big == empty.big);
    CHECK_FALSE(b->flag);
    CHECK(b->label.empty());
    CHECK(b->at == empty.at);
    CHECK(b->maybe == std::nullopt);
    CHECK(b->note == std::nullopt);
    CHECK(b->data.empty());
    CHECK(b->thumbnail == std::nullopt);

    // Stored as bytes (a BLOB on SQLite, not their text), and updated as such.
    CHECK(db.scalar("select length(data) from samples where id = 1") == 1 << 20);
    CHECK(db.scalar("select count(*) from samples where id = 2 and data is not null and "
                    "length(data) = 0") == 1);
    b->data = {std::byte{1}, std::byte{0}, std::byte{2}};
    b->thumbnail = std::vector<unsigned char>{};
    auto updated = test::run(io, asio_soci::as_future(factory, [&](soci::session& sql) {
                                 asio_soci::update_row(sql, *b);
                                 return asio_soci::get_by_key<models::sample>(sql, 2);
                             }));
    CHECK(updated->data == b->data);
    CHECK(updated->thumbnail == std::vector<unsigned char>{});
    CHECK(db.scalar("select length(data) from samples where id = 2") == 3);
}

TEST_CASE("models: create_all then drop_all leaves an empty database, and twice is harmless",
          "[db]") {
    test::database db;
    const auto metadata = asio_soci::metadata::of<models::post, models::tag, models::user>();
    auto sql = db.connect();
    asio_soci::create_all(*sql, metadata);
    asio_soci::create_all(*sql, metadata);  // every table exists: nothing happens
    for (const char* name : {"users", "posts", "tags"})
        CHECK(table_exists(db, name));
    asio_soci::drop_all(*sql, metadata);  // posts before users, which it refers to
    for (const char* name : {"users", "posts", "tags"})
        CHECK_FALSE(table_exists(db, name));
    asio_soci::drop_all(*sql, metadata);
}

TEST_CASE("models: the typed statements and SOCI's conversion of a model", "[db]") {
    test::database db;
    const auto metadata = asio_soci::metadata::of<models::user, models::post, models::tag>();
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 2});
    asio::io_context io;
    test::run(io, asio_soci::async_create_all(factory, metadata));

    test::run(
        io, asio_soci::as_future(factory, [](soci::session& sql) {
            models::user ann{0, "ann", "ann@example.com"}, bob{0, "bob", std::nullopt};
            asio_soci::insert_row(sql, ann);
            asio_soci::insert_row(sql, bob);
            CHECK(ann.id > 0);  // assigned by the database
            CHECK(bob.id > ann.id);

            models::post first{0, ann.id, "first", 0};
            asio_soci::insert_row(sql, first);
            CHECK(first.id > 0);
            // The column's default applies when the insert leaves it out.
            sql << "insert into posts (author, title) values (:a, 'second')", soci::use(bob.id);
            auto posts = asio_soci::select_where<models::post>(sql, "author = :a", bob.id);
            REQUIRE(posts.size() == 1);
            CHECK(posts.front().votes == 0);

            CHECK(asio_soci::count_rows<models::user>(sql) == 2);
            CHECK(asio_soci::count_rows<models::user>(sql, "email is null") == 1);
            auto named = asio_soci::select_where<models::user>(
                sql, "username in (:a, :b) order by id", std::string("ann"), std::string("bob"));
            REQUIRE(named.size() == 2);
            CHECK(named[0].username == "ann");
            CHECK(named[0].email == "ann@example.com");
            CHECK(named[1].email == std::nullopt);

            bob.email = "bob@example.com";
            CHECK(asio_soci::update_row(sql, bob) == 1);
            CHECK(asio_soci::get_by_key<models::user>(sql, bob.id)->email == "bob@example.com");
            models::user ghost{9999, "ghost", std::nullopt};
            CHECK(asio_soci::update_row(sql, ghost) == 0);

            // Composite key.
            models::tag t{first.id, "news", 0.5};
            asio_soci::insert_row(sql, t);
            CHECK(asio_soci::get_by_key<models::tag>(sql, first.id, std::string("news"))->weight ==
                  0.5);
            CHECK_THROWS_AS(asio_soci::get_by_key<models::tag>(sql, first.id),
                            asio_soci::model_error);

            // SOCI's own API with the model: into, use, rowset.
            models::user fetched;
            sql << "select id, username, email from users where username = 'ann'",
                soci::into(fetched);
            CHECK(fetched.id == ann.id);
            // A select of some columns fills those, and leaves the other members as they are.
            models::user partial{0, "", std::string("kept")};
            sql << "select id, username from users where username = 'ann'", soci::into(partial);
            CHECK(partial.username == "ann");
            CHECK(partial.email == "kept");
            const models::user carol{0, "carol", std::nullopt};
            sql << "insert into users (username, email) values (:username, :email)",
                soci::use(carol);
            int rows = 0;
            soci::rowset<models::user> all = (sql.prepare << "select * from users order by id");
            for (const auto& u : all)
                rows += !u.username.empty();
            CHECK(rows == 3);

            // A conflict is no error, and leaves the transaction usable.
            models::user dup{0, "ann", std::nullopt}, dan{0, "dan", std::nullopt};
            CHECK_FALSE(asio_soci::try_insert_row(sql, dup));
            CHECK(dup.id == 0);
            CHECK(asio_soci::try_insert_row(sql, dan));
            CHECK(dan.id > 0);

            CHECK(asio_soci::delete_by_key<models::user>(sql, bob.id) == 1);
            CHECK(asio_soci::delete_by_key<models::user>(sql, bob.id) == 0);
            CHECK_FALSE(asio_soci::get_by_key<models::user>(sql, bob.id));
        }));
}

TEST_CASE("models: the typed statements are prepared once per pooled connection",
          "[db][postgresql]") {
    test::database db;
    const auto metadata = asio_soci::metadata::of<models::user>();
    auto factory = asio_soci::make_session_factory(db.url(), {.pool_size = 1});
    asio::io_context io;
    test::run(io, asio_soci::async_create_all(factory, metadata));
    // PostgreSQL lists a connection's prepared statements: a statement prepared per call
    // is deallocated after it, a kept one stays, one per kind.
    auto prepared_on_users = [](soci::session& sql) {
        long long n = 0;
        sql << "select count(*) from pg_prepared_statements where statement like "
               "'%\"users\"%'",
            soci::into(n);
        return n;
    };
    for (int round = 0; round < 3; ++round) {
        const auto kept = test::run(
            io, asio_soci::as_future(factory, [&, round](soci::session& sql) {
                models::user u{0, "user" + std::to_string(round), std::nullopt};
                asio_soci::insert_row(sql, u);
                asio_soci::insert_row(sql, u = {0, "other" + std::to_string(round), "x"});
                CHECK(asio_soci::get_by_key<models::user>(sql, u.id)->email == "x");
                CHECK(asio_soci::get_by_key<models::user>(sql, u.id + 1000) == std::nullopt);
                u.email = "y";
                CHECK(asio_soci::update_row(sql, u) == 1);
                CHECK(asio_soci::get_by_key<models::user>(sql, u.id)->email == "y");
                CHECK(asio_soci::delete_by_key<models::user>(sql, u.id) == 1);
                CHECK(asio_soci::select_where<models::user>(sql, "username = :n", "user0").size() ==
                      1);
                CHECK(asio_soci::count_rows<models::user>(sql) == round + 1);
                return prepared_on_users(sql);
            }));
        CHECK(kept == 6);  // insert, get, update, delete, the select, the count
    }
    // On a session of the caller's own, they are prepared for the call.
    auto own = db.connect();
    models::user dan{0, "dan", std::nullopt};
    asio_soci::insert_row(*own, dan);
    CHECK(asio_soci::get_by_key<models::user>(*own, dan.id)->username == "dan");
    CHECK(prepared_on_users(*own) == 0);
}

TEST_CASE("models: the database enforces the declared constraints", "[db]") {
    test::database db;
    const auto metadata = asio_soci::metadata::of<models::user, models::post>();
    auto sql = db.connect();
    if (!db.is_postgresql())
        *sql << "pragma foreign_keys = on";  // SQLite enforces foreign keys only when asked
    asio_soci::create_all(*sql, metadata);
    models::user ann{0, "ann", std::nullopt};
    asio_soci::insert_row(*sql, ann);
    models::user again{0, "ann", std::nullopt};
    CHECK_THROWS_AS(asio_soci::insert_row(*sql, again), soci::soci_error);  // unique
    models::post orphan{0, ann.id + 100, "orphan", 0};
    CHECK_THROWS_AS(asio_soci::insert_row(*sql, orphan), soci::soci_error);  // foreign key
    models::post post{0, ann.id, "kept", 1};
    asio_soci::insert_row(*sql, post);
    asio_soci::delete_by_key<models::user>(*sql, ann.id);  // on delete cascade
    CHECK(asio_soci::count_rows<models::post>(*sql) == 0);
}

namespace bad {

struct row {
    std::int64_t id = 0;
    std::int64_t other = 0;
    std::string name;
    std::optional<std::int64_t> parent;
};

template <class Build>
void expect_rejected(Build build, const std::string& message) {
    CHECK_THROWS_WITH(build(), Catch::Contains(message));
}

}  // namespace bad

TEST_CASE("models: declarations that cannot be right are rejected, naming table and column") {
    using asio_soci::table;
    using bad::row;
    namespace sql = asio_soci::sql;
    bad::expect_rejected(
        [] {
            return table<row>("t")
                .column("id", &row::id, sql::bigint)
                .column("id", &row::other, sql::bigint);
        },
        "table t, column id: declared twice");
    bad::expect_rejected(
        [] {
            return table<row>("t")
                .column("id", &row::id, sql::bigint, {.primary_key = true})
                .column("other", &row::other, sql::bigint, {.primary_key = true});
        },
        "table t, column other: a second primary key");
    bad::expect_rejected(
        [] {
            return table<row>("t")
                .column("id", &row::id, sql::bigint)
                .column("again", &row::id, sql::bigint);
        },
        "table t, column again: its member is already column id");
    auto check = [](const table<row>& t) { t.definition().check(); };
    bad::expect_rejected(
        [&] { check(table<row>("t").column("name", &row::name, sql::text, {.identity = true})); },
        "table t, column name: an identity column must be of an integer type");
    bad::expect_rejected(
        [&] { check(table<row>("t").column("id", &row::id, sql::bigint, {.identity = true})); },
        "table t, column id: an identity column must be the primary key");
    bad::expect_rejected(
        [&] {
            check(table<row>("t")
                      .column("id", &row::id, sql::bigint)
                      .column("other", &row::other, sql::bigint,
                              {.foreign_key = asio_soci::references{
                                   "t", "id", asio_soci::on_delete::set_null}}));
        },
        "table t, column other: on_delete::set_null needs a nullable column");
    bad::expect_rejected([&] { check(table<row>("t").column("bad name", &row::id, sql::bigint)); },
                         "table t, column bad name: a column name must be");
    bad::expect_rejected(
        [&] { check(table<row>("t").column("name", &row::name, sql::varchar(0))); },
        "table t, column name: varchar needs a length");
    bad::expect_rejected(
        [&] {
            check(
                table<row>("t").column("id", &row::id, sql::bigint).primary_key({"id", "missing"}));
        },
        "table t: the primary key names column missing");
}

namespace dangling {

struct child {
    std::int64_t id = 0;
    std::int64_t parent = 0;
};

inline const asio_soci::table<child>& table_of(asio_soci::model<child>) {
    static const auto table =
        asio_soci::table<child>("children")
            .column("id", &child::id, asio_soci::sql::bigint, {.primary_key = true})
            .column("parent", &child::parent, asio_soci::sql::bigint,
                    {.foreign_key = asio_soci::references{"parents", "id"}});
    return table;
}

}  // namespace dangling

TEST_CASE("models: a foreign key to a table the metadata lacks is rejected at start-up") {
    CHECK_THROWS_WITH(asio_soci::metadata::of<dangling::child>(),
                      Catch::Contains("table children, column parent: its foreign key refers to "
                                      "table parents, which the metadata does not have"));
    CHECK_THROWS_WITH((asio_soci::metadata::of<models::user, models::user>()),
                      Catch::Contains("table users is declared twice"));
}
