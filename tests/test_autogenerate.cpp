// Models compared with a live database, and the migrations generated from them: each kind
// of change declared as a version 1 and a version 2 of the models, migrated both ways and
// checked by comparing the database with the models again, on SQLite and PostgreSQL.
#include "support.hpp"

#include <asio_soci/migrate_main.hpp>
#include <asio_soci/model.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace evolving {

namespace sql = asio_soci::sql;
using asio_soci::table;

// --- Columns: added, removed, a type and a nullability changed --------------------------
struct member_v1 {
    std::int64_t id = 0;
    std::string name;
    std::optional<int> age;
    std::int64_t score = 0;
    std::optional<std::string> legacy;
};
inline const table<member_v1>& table_of(asio_soci::model<member_v1>) {
    static const auto t =
        table<member_v1>("members")
            .column("id", &member_v1::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("name", &member_v1::name, sql::varchar(50))
            .column("age", &member_v1::age, sql::integer)
            .column("score", &member_v1::score, sql::integer)
            .column("legacy", &member_v1::legacy, sql::text);
    return t;
}
struct member_v2 {
    std::int64_t id = 0;
    std::string name;
    int age = 0;
    std::int64_t score = 0;
    std::optional<std::string> nickname;
    std::optional<std::vector<std::byte>> avatar;
};
inline const table<member_v2>& table_of(asio_soci::model<member_v2>) {
    static const auto t =
        table<member_v2>("members")
            .column("id", &member_v2::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("name", &member_v2::name, sql::varchar(100))
            .column("age", &member_v2::age, sql::integer)
            .column("score", &member_v2::score, sql::bigint)
            .column("nickname", &member_v2::nickname, sql::text)
            .column("avatar", &member_v2::avatar, sql::blob);
    return t;
}

// --- Constraints: unique, index, foreign key added and removed --------------------------
struct team_v1 {
    std::int64_t id = 0;
    std::string name;
};
inline const table<team_v1>& table_of(asio_soci::model<team_v1>) {
    static const auto t =
        table<team_v1>("teams")
            .column("id", &team_v1::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("name", &team_v1::name, sql::varchar(50));
    return t;
}
struct team_v2 {
    std::int64_t id = 0;
    std::string name;
};
inline const table<team_v2>& table_of(asio_soci::model<team_v2>) {
    static const auto t =
        table<team_v2>("teams")
            .column("id", &team_v2::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("name", &team_v2::name, sql::varchar(50), {.unique = true});
    return t;
}
struct player_v1 {
    std::int64_t id = 0;
    std::int64_t team = 0;
    std::optional<std::int64_t> coach;
    std::string handle;
    std::string city;
};
inline const table<player_v1>& table_of(asio_soci::model<player_v1>) {
    static const auto t =
        table<player_v1>("players")
            .column("id", &player_v1::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("team", &player_v1::team, sql::bigint,
                    {.foreign_key =
                         asio_soci::references{"teams", "id", asio_soci::on_delete::cascade}})
            .column("coach", &player_v1::coach, sql::bigint)
            .column("handle", &player_v1::handle, sql::text, {.unique = true})
            .column("city", &player_v1::city, sql::text, {.index = true});
    return t;
}
struct player_v2 {
    std::int64_t id = 0;
    std::int64_t team = 0;
    std::optional<std::int64_t> coach;
    std::string handle;
    std::string city;
};
inline const table<player_v2>& table_of(asio_soci::model<player_v2>) {
    static const auto t =
        table<player_v2>("players")
            .column("id", &player_v2::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("team", &player_v2::team, sql::bigint,
                    {.foreign_key =
                         asio_soci::references{"teams", "id", asio_soci::on_delete::cascade}})
            .column("coach", &player_v2::coach, sql::bigint,
                    {.foreign_key =
                         asio_soci::references{"teams", "id", asio_soci::on_delete::set_null}})
            .column("handle", &player_v2::handle, sql::text)
            .column("city", &player_v2::city, sql::text)
            .index("ix_players_handle", {"handle"});
    return t;
}

// --- Tables: one added; one the models lack ----------------------------------------------
struct tag {
    std::int64_t id = 0;
    std::string label;
};
inline const table<tag>& table_of(asio_soci::model<tag>) {
    static const auto t =
        table<tag>("tags")
            .column("id", &tag::id, sql::bigint, {.primary_key = true, .identity = true})
            .column("label", &tag::label, sql::varchar(20), {.unique = true});
    return t;
}

}  // namespace evolving

namespace {

using asio_soci::autogenerate_options;
using asio_soci::metadata;

// On SQLite, foreign keys enforced, as an application that cares turns them on: table
// rebuilds must neither trip them nor cascade.
asio_soci::pool_options enforcing_foreign_keys() {
    return {.pool_size = 2, .on_connect = [](soci::session& sql) {
                if (sql.get_backend_name() == "sqlite3")
                    sql << "pragma foreign_keys = on";
            }};
}

// A database evolving by generated migrations.
struct evolution {
    test::database db;
    asio_soci::session_factory factory =
        asio_soci::make_session_factory(db.url(), enforcing_foreign_keys());
    test::migration_dir dir;

    std::filesystem::path generate(const metadata& models, const std::string& message,
                                   const autogenerate_options& options = {}) {
        auto written =
            asio_soci::autogenerate_migration(factory, models, dir.path(), message, options);
        REQUIRE(written);
        return *written;
    }
    void upgrade() const { asio_soci::migrator(factory, dir.load()).upgrade(); }
    void downgrade(const std::string& target) const {
        asio_soci::migrator(factory, dir.load()).downgrade(target);
    }
    std::set<std::string> differences(const metadata& models,
                                      const autogenerate_options& options = {}) const {
        std::set<std::string> found;
        for (const auto& d : asio_soci::check_models(factory, models, options).differences)
            found.insert(d.table + ": " + d.description);
        return found;
    }
    bool matches(const metadata& models) const { return differences(models).empty(); }
};

std::string read(const std::filesystem::path& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::filesystem::path down_of(const std::filesystem::path& up) {
    auto name = up.filename().string();
    return up.parent_path() / (name.substr(0, name.size() - 7) + ".down.sql");
}

}  // namespace

TEST_CASE("autogenerate: columns added, removed, retyped and made not null, both ways", "[db]") {
    const auto v1 = metadata::of<evolving::member_v1>();
    const auto v2 = metadata::of<evolving::member_v2>();
    evolution e;
    CHECK(e.differences(v1) == std::set<std::string>{"members: table members added"});
    const auto first = e.generate(v1, "create_members");
    CHECK(first.filename() == "0001_create_members.up.sql");
    e.upgrade();
    CHECK(e.matches(v1));
    e.db.execute(
        "insert into members (name, age, score, legacy) values ('ann', 30, 7, 'x'), "
        "('bob', 41, 9, null)");

    CHECK(e.differences(v2) == std::set<std::string>{
                                   "members: column legacy removed",
                                   "members: column nickname added",
                                   "members: column avatar added",
                                   "members: column name: type varchar(100), was varchar(50)",
                                   "members: column age: not null, was nullable",
                                   "members: column score: type bigint, was integer",
                               });
    const auto second = e.generate(v2, "reshape_members");
    CHECK(second.filename() == "0002_reshape_members.up.sql");
    const auto up = read(second);
    CHECK(up.find("-- Generated by asio-soci's autogenerate") == 0);
    CHECK(up.find("Review it before applying it") != std::string::npos);
    if (!e.db.is_postgresql())  // what ALTER TABLE cannot do: the table is rebuilt
        CHECK(up.find("insert into \"asio_soci_rebuild_members\"") != std::string::npos);
    e.upgrade();
    CHECK(e.matches(v2));
    // The rows and the values of the columns both versions have survive.
    CHECK(e.db.scalar("select count(*) from members where (id, name, age, score) in "
                      "(values (1, 'ann', 30, 7), (2, 'bob', 41, 9))") == 2);
    CHECK(e.db.scalar("select count(*) from members where nickname is null") == 2);
    e.db.execute("update members set nickname = 'b' where id = 2");
    e.db.execute("insert into members (name, age, score) values ('cid', 5, 8)");

    // Up to date: nothing is written.
    CHECK_FALSE(asio_soci::autogenerate_migration(e.factory, v2, e.dir.path(), "nothing"));
    CHECK(e.dir.load().size() == 2);

    e.downgrade("1");
    CHECK(e.matches(v1));
    CHECK(e.db.scalar("select count(*) from members where legacy is null") == 3);
    CHECK(e.db.scalar("select count(*) from members where name = 'ann' and age = 30") == 1);
}

TEST_CASE("autogenerate: unique constraints, indexes and foreign keys, both ways", "[db]") {
    const auto v1 = metadata::of<evolving::team_v1, evolving::player_v1>();
    const auto v2 = metadata::of<evolving::team_v2, evolving::player_v2>();
    evolution e;
    e.generate(v1, "create_teams");
    e.upgrade();
    CHECK(e.matches(v1));
    e.db.execute("insert into teams (name) values ('red'), ('blue')");
    e.db.execute(
        "insert into players (team, coach, handle, city) values (1, null, 'a', 'oslo'), "
        "(2, 1, 'b', 'rome'), (2, 2, 'c', 'rome')");

    CHECK(e.differences(v2) ==
          std::set<std::string>{
              "teams: unique (name) added",
              "players: foreign key (coach) -> teams (id) on delete set null added",
              "players: unique (handle) removed",
              "players: index ix_players_city removed",
              "players: index ix_players_handle added",
          });
    e.generate(v2, "constraints");
    // teams is rebuilt on SQLite while players refers to it with on delete cascade: with
    // enforcement on, its DROP would delete every player.
    e.upgrade();
    CHECK(e.matches(v2));
    CHECK(e.db.scalar("select count(*) from players") == 3);
    CHECK(e.db.scalar("select count(*) from players where coach = 1") == 1);
    e.downgrade("1");
    CHECK(e.matches(v1));
    CHECK(e.db.scalar("select count(*) from players") == 3);
    CHECK(e.db.scalar("select count(*) from teams") == 2);
}

TEST_CASE("autogenerate: tables added, and tables the models lack left alone unless asked",
          "[db]") {
    const auto v1 = metadata::of<evolving::team_v1>();
    const auto v2 = metadata::of<evolving::team_v1, evolving::tag>();
    evolution e;
    e.generate(v1, "teams");
    e.upgrade();
    e.db.execute("create table scratch (n integer)");

    const auto comparison = asio_soci::check_models(e.factory, v2);
    CHECK(comparison.unknown_tables == std::vector<std::string>{"scratch"});
    CHECK(e.differences(v2) == std::set<std::string>{"tags: table tags added"});
    e.generate(v2, "tags");
    e.upgrade();
    CHECK(e.matches(v2));
    CHECK(e.db.scalar("select count(*) from scratch") == 0);  // still there

    const autogenerate_options drop{.drop_unknown_tables = true};
    CHECK(e.differences(v2, drop) == std::set<std::string>{"scratch: table scratch removed"});
    const auto third = e.generate(v2, "drop_scratch", drop);
    CHECK(read(third).find("drop table \"scratch\"") != std::string::npos);
    e.upgrade();
    CHECK(asio_soci::check_models(e.factory, v2).unknown_tables.empty());
    // Its down script creates it again, and the first one's drops what it created.
    CHECK(read(down_of(third)).find("create table \"scratch\"") != std::string::npos);
    e.downgrade("base");
    CHECK(asio_soci::check_models(e.factory, v1).unknown_tables ==
          std::vector<std::string>{"scratch"});
    CHECK(e.differences(v1) == std::set<std::string>{"teams: table teams added"});
}

TEST_CASE("autogenerate: refused while migrations are pending or do not match their files",
          "[db]") {
    const auto v1 = metadata::of<evolving::team_v1>();
    const auto v2 = metadata::of<evolving::team_v2>();
    evolution e;
    e.generate(v1, "teams");
    // Not applied yet: the comparison would not start from the head.
    try {
        e.generate(v2, "too_early");
        FAIL("autogenerate ran with a pending migration");
    } catch (const asio_soci::migration_error& error) {
        CHECK_THAT(error.what(), Catch::Contains("1 migration is not applied") &&
                                     Catch::Contains("0001_teams.up.sql") &&
                                     Catch::Contains("upgrade first"));
    }
    CHECK(e.dir.load().size() == 1);
    e.upgrade();
    e.dir.write("0001_teams.up.sql", "create table teams (id integer)");  // changed since
    CHECK_THROWS_AS(e.generate(v2, "changed"), asio_soci::migration_error);
    CHECK(e.dir.load().size() == 1);
}

namespace {

// migrate_main as a program with these models would run it.
int run_migrate_main(const metadata& models, std::vector<std::string> words) {
    words.insert(words.begin(), "app-migrate");
    std::vector<char*> argv;
    for (auto& w : words)
        argv.push_back(w.data());
    return asio_soci::migrate_main(static_cast<int>(argv.size()), argv.data(), models);
}

}  // namespace

TEST_CASE("autogenerate: migrate_main gives a program the model commands", "[db]") {
    const auto v1 = metadata::of<evolving::team_v1>();
    const auto v2 = metadata::of<evolving::team_v2, evolving::tag>();
    test::database db;
    test::migration_dir dir;
    const std::vector<std::string> at{"--url", db.url(), "--dir", dir.path().string()};
    auto run = [&](const metadata& models, std::vector<std::string> words) {
        words.insert(words.begin(), at.begin(), at.end());
        return run_migrate_main(models, std::move(words));
    };
    CHECK(run(v1, {"check-models"}) == 1);
    CHECK(run(v1, {"autogenerate", "create_teams"}) == 0);
    CHECK(run(v1, {"check-models"}) == 1);           // written, not applied
    CHECK(run(v1, {"autogenerate", "again"}) == 3);  // refused: pending
    CHECK(run(v1, {"upgrade"}) == 0);
    CHECK(run(v1, {"check-models"}) == 0);
    CHECK(run(v1, {"autogenerate", "nothing"}) == 0);
    CHECK(dir.load().size() == 1);

    CHECK(run(v2, {"check-models"}) == 1);
    CHECK(run(v2, {"autogenerate", "tags_and_unique_names"}) == 0);
    CHECK(run(v2, {"upgrade"}) == 0);
    CHECK(run(v2, {"check-models"}) == 0);
    CHECK(run(v2, {"check"}) == 0);
    CHECK(run(v2, {"--help"}) == 0);
    CHECK(run(v2, {"bogus"}) == 2);
    CHECK(run_migrate_main(v2, {"check-models"}) == 2);  // no URL
}

TEST_CASE("autogenerate: create-all --stamp makes a database that evolves by migrations", "[db]") {
    const auto v1 = metadata::of<evolving::team_v1>();
    const auto v2 = metadata::of<evolving::team_v2>();
    evolution reference;  // the migrations, generated on a database of their own
    reference.generate(v1, "teams");

    test::database db;
    const std::vector<std::string> at{"--url", db.url(), "--dir", reference.dir.path().string()};
    auto run = [&](const metadata& models, std::vector<std::string> words) {
        words.insert(words.begin(), at.begin(), at.end());
        return run_migrate_main(models, std::move(words));
    };
    CHECK(run(v1, {"create-all", "--stamp"}) == 0);
    CHECK(run(v1, {"check"}) == 0);  // at the head
    CHECK(run(v1, {"check-models"}) == 0);
    CHECK(run(v2, {"autogenerate", "unique_names"}) == 0);
    CHECK(run(v2, {"upgrade"}) == 0);
    CHECK(run(v2, {"check-models"}) == 0);
}
